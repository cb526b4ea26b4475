import { parse as parseQuery } from 'node:querystring';
import type { Context } from 'koa';
import getRawBody from 'raw-body';

import { ApiError } from '../errors.js';

/** The contract's body limit: 10 MB, refused with 413 before anything is parsed. */
export const bodyLimitBytes = 10 * 1024 * 1024;

export function payloadTooLarge(): ApiError {
  // Connection: close, so the rest of the unread body is not waited for on a kept-alive socket.
  return new ApiError(413, 'payload_too_large', `request bodies are limited to ${bodyLimitBytes} bytes`, {}, { Connection: 'close' });
}

export async function readRawBody(ctx: Context): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit: bodyLimitBytes, length: ctx.get('content-length') || undefined });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw payloadTooLarge();
    if (type === 'request.aborted') throw new ApiError(400, 'request_aborted', 'the client closed the connection mid-body');
    throw new ApiError(400, 'invalid_body', 'the request body could not be read (length mismatch or bad encoding)');
  }
}

export async function readJson(ctx: Context): Promise<unknown> {
  const raw = await readRawBody(ctx);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}

/** Form or JSON bodies as a flat map of strings (OAuth endpoints accept either). */
export async function readParams(ctx: Context): Promise<Record<string, string>> {
  if (ctx.is('application/json')) {
    const body = await readJson(ctx).catch((err: ApiError) => {
      // OAuth endpoints speak RFC 6749, where an unparseable body is invalid_request.
      throw err.code === 'invalid_json' ? new ApiError(400, 'invalid_request', err.detail) : err;
    });
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_request', 'the JSON body must be an object');
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (value === null || value === undefined) continue;
      if (typeof value === 'object') throw new ApiError(400, 'invalid_request', `${key} must be a string`);
      params[key] = String(value);
    }
    return params;
  }
  if (ctx.is('application/x-www-form-urlencoded')) {
    const text = (await readRawBody(ctx)).toString('utf8');
    // curl -d sends JSON as a form unless told otherwise; say so rather than "grant_type is required".
    if (/^\s*[{[]/.test(text)) {
      throw new ApiError(400, 'invalid_request', 'the body is JSON but Content-Type says application/x-www-form-urlencoded; send Content-Type: application/json');
    }
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(parseQuery(text))) {
      if (Array.isArray(value)) throw new ApiError(400, 'invalid_request', `${key} must appear once`);
      if (value !== undefined) params[key] = value;
    }
    return params;
  }
  if (!ctx.get('content-type') && !ctx.request.length) return {};
  throw new ApiError(415, 'unsupported_media_type', 'the body must be application/x-www-form-urlencoded or application/json');
}
