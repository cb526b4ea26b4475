import { ApiError } from '../../errors.js';
import type { ResourceMeta } from '../resource-meta.js';

export type Usage = 'readable' | 'writable';

/**
 * Extra media types per resource, beside application/json, for the OpenAPI document. API profiles plug in here
 * (application/vnd.ed-fi.{resource}.{profile}.readable+json / .writable+json); none by default.
 */
export type ProfileMediaTypes = (resource: ResourceMeta) => { readable: string[]; writable: string[] };

/** application/vnd.ed-fi.{resource}.{profile}.{usage}+json, taken apart. */
export interface ProfileMediaType {
  resource: string;
  profile: string;
  usage: Usage;
  /** As the client sent it, without parameters. */
  text: string;
}

const vendorPrefix = 'application/vnd.ed-fi.';
const vendorPattern = /^application\/vnd\.ed-fi\.([a-z][a-z0-9]*)\.([a-z0-9][a-z0-9._-]*)\.([a-z]+)\+json$/i;

/** The media type a profile is read or written with; the resource keeps its lower-camel name, the profile is lower-cased. */
export function profileMediaType(resource: ResourceMeta, profile: string, usage: Usage): string {
  return `${vendorPrefix}${resource.mediaName}.${profile.toLowerCase()}.${usage}+json`;
}

/** A media type without its parameters (`; charset=utf-8`, `; q=0.5`), lower-cased, and its q. */
function mediaRange(value: string): { type: string; original: string; q: number } {
  const [type, ...params] = value.split(';').map((p) => p.trim());
  const qParam = params.find((p) => /^q\s*=/i.test(p));
  const q = qParam ? Number(qParam.split('=')[1]) : 1;
  return { type: type.toLowerCase(), original: type, q: Number.isFinite(q) ? q : 0 };
}

function parseVendorType(original: string, header: 'Accept' | 'Content-Type'): ProfileMediaType {
  const match = vendorPattern.exec(original);
  const usage = match?.[3].toLowerCase();
  if (!match || (usage !== 'readable' && usage !== 'writable')) {
    // The ODS/API tells a bad usage segment from a type that is not shaped like a profile type at all.
    const reason = match ? `The profile usage segment in the profile-based '${header}' header was not recognized.` : `The format of the profile-based '${header}' header was invalid.`;
    throw new ApiError('malformed_profile_media_type', `"${original}" is not a profile media type; expected application/vnd.ed-fi.{resource}.{profile}.readable+json or .writable+json`, {
      errors: [reason],
    });
  }
  return { resource: match[1], profile: match[2], usage, text: original };
}

/**
 * The profile an Accept header asks for: of its ed-fi vendor types the most preferred (highest q,
 * then first listed) decides; q=0 ones are refusals and ignored. Other ranges (application/json,
 * *\/*) ask for no profile.
 */
export function requestedForRead(accept: string | undefined): ProfileMediaType | undefined {
  const ranges = (accept ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)
    .map(mediaRange)
    .filter((r) => r.q > 0 && r.type.startsWith(vendorPrefix));
  const preferred = ranges.sort((a, b) => b.q - a.q)[0];
  return preferred && parseVendorType(preferred.original, 'Accept');
}

/** The profile a Content-Type names, if it is an ed-fi vendor type. */
export function requestedForWrite(contentType: string | undefined): ProfileMediaType | undefined {
  if (!contentType) return undefined;
  const range = mediaRange(contentType);
  return range.type.startsWith(vendorPrefix) ? parseVendorType(range.original, 'Content-Type') : undefined;
}
