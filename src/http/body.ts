import { parse as parseQuery } from 'node:querystring';
import type { Context } from 'koa';
import getRawBody from 'raw-body';

import { ApiError } from '../errors.js';

/** The contract's body limit: 10 MB, refused with 413 before anything is parsed. */
export const bodyLimitBytes = 10 * 1024 * 1024;

export function payloadTooLarge(): ApiError {
  // Connection: close, so the rest of the unread body is not waited for on a kept-alive socket.
  return new ApiError('payload_too_large', `request bodies are limited to ${bodyLimitBytes} bytes`, {}, { Connection: 'close' });
}

export async function readRawBody(ctx: Context): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { limit: bodyLimitBytes, length: ctx.get('content-length') || undefined });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw payloadTooLarge();
    if (type === 'request.aborted') throw new ApiError('request_aborted', 'the client closed the connection mid-body');
    // Node's parser frames the body by its length, so anything else is a fault here, not the client's: a 500.
    throw err;
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('invalid_json', 'the request body is not valid JSON');
  }
}

export async function readJson(ctx: Context): Promise<unknown> {
  return parseJson(await readRawBody(ctx));
}

/** The ODS/API's words for a write with no body at all. */
export const bodyRequired = 'A non-empty request body is required.';

/** No body by the request's framing (no length and no chunks, or a zero length), before reading a byte. */
function declaredEmpty(ctx: Context): boolean {
  const length = ctx.get('content-length');
  return length === '0' || (!length && !ctx.get('transfer-encoding'));
}

/**
 * The JSON APIs' writes (Ed-Fi resources, SIS sync) take JSON and only JSON: `application/json` or
 * an `application/…+json` type (the profile media types), in UTF-8. A missing type, `text/plain`
 * or another charset is refused rather than guessed at: a body read as something it is not can
 * slip past what checks it.
 */
export function requireJsonContentType(ctx: Context): void {
  const header = ctx.get('content-type');
  const [mediaType, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  const json = mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  if (json && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return;
  throw new ApiError('unsupported_media_type', header ? `Content-Type ${header} is not accepted; send application/json in UTF-8` : 'send Content-Type: application/json');
}

/**
 * A JSON API write body, or undefined when there is none (nothing sent, or only whitespace): a body is refused with
 * 415 unless declared as UTF-8 JSON, then parsed.
 */
export async function readOptionalJsonBody(ctx: Context): Promise<unknown> {
  if (declaredEmpty(ctx)) return undefined;
  requireJsonContentType(ctx);
  const raw = await readRawBody(ctx);
  return raw.toString('utf8').trim() ? parseJson(raw) : undefined;
}

/** A JSON API write body, as {@link readOptionalJsonBody}; none at all is `invalid_json` with the ODS/API's reason. */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  const body = await readOptionalJsonBody(ctx);
  if (body === undefined) throw new ApiError('invalid_json', bodyRequired);
  return body;
}

/** Form or JSON bodies as a flat map of strings (OAuth endpoints accept either). */
export async function readParams(ctx: Context): Promise<Record<string, string>> {
  if (ctx.is('application/json')) {
    const body = await readJson(ctx).catch((err: ApiError) => {
      // OAuth endpoints speak RFC 6749, where an unparseable body is invalid_request.
      throw err.code === 'invalid_json' ? new ApiError('invalid_request', err.detail) : err;
    });
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('invalid_request', 'the JSON body must be an object');
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (value === null || value === undefined) continue;
      if (typeof value === 'object') throw new ApiError('invalid_request', `${key} must be a string`);
      params[key] = String(value);
    }
    return params;
  }
  if (ctx.is('application/x-www-form-urlencoded')) {
    const text = (await readRawBody(ctx)).toString('utf8');
    // curl -d sends JSON as a form unless told otherwise; say so rather than "grant_type is required".
    if (/^\s*[{[]/.test(text)) {
      throw new ApiError('invalid_request', 'the body is JSON but Content-Type says application/x-www-form-urlencoded; send Content-Type: application/json');
    }
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(parseQuery(text))) {
      if (Array.isArray(value)) throw new ApiError('invalid_request', `${key} must appear once`);
      if (value !== undefined) params[key] = value;
    }
    return params;
  }
  if (!ctx.get('content-type') && !ctx.request.length) return {};
  throw new ApiError('unsupported_media_type', 'the body must be application/x-www-form-urlencoded or application/json');
}
