import type { ClientRecord } from '../../db/clients.js';
import { ApiError } from '../../errors.js';
import type { ContentPolicy, ReadRepresentation, WriteRepresentation } from '../content-policy.js';
import type { ResourceMeta } from '../resource-meta.js';
import { profileMediaType, requestedForRead, requestedForWrite, type ProfileMediaType, type Usage } from './media-type.js';
import type { ProfileRegistry } from './registry.js';
import { includesPath, type ClassRules, type ResourceRules } from './rules.js';
import { mergeForWrite, shapeForRead } from './shape.js';

/**
 * API profiles (contract section 6) as the resource API's content policy. Without a profile media
 * type a request is plain JSON — unless the client is assigned a profile that governs this
 * resource, in which case it must name one (`profile_required`); a profile that covers the
 * resource but not this usage refuses it (`profile_method_not_allowed`), as in the ODS/API.
 */
export function profilePolicy(registry: ProfileRegistry): ContentPolicy {
  return {
    forRead({ accept, resource, client }): ReadRepresentation {
      refuseUndefinedAssignment(registry, client);
      const requested = requestedForRead(accept);
      if (!requested) {
        refuseIfProfileRequired(registry, client, resource, 'readable');
        return { contentType: 'application/json', shape: (item) => item, readable: () => true };
      }
      const { profile, content } = chosenProfile(registry, requested, resource, client, 'readable');
      return {
        contentType: profileMediaType(resource, profile, 'readable'),
        shape: (item) => shapeForRead(content, item),
        readable: (path) => includesPath(content, path),
      };
    },

    forWrite({ contentType, resource, client }): WriteRepresentation {
      refuseUndefinedAssignment(registry, client);
      const requested = requestedForWrite(contentType);
      if (!requested) {
        refuseIfProfileRequired(registry, client, resource, 'writable');
        return { filter: (incoming) => incoming };
      }
      const { profile, rules, content } = chosenProfile(registry, requested, resource, client, 'writable');
      return {
        filter(incoming, stored) {
          if (!incoming || typeof incoming !== 'object' || Array.isArray(incoming)) return incoming; // validation reports it
          if (!stored && rules.requiredNotWritable.length) throw cannotCreate(profile, resource, rules.requiredNotWritable);
          return mergeForWrite(content, incoming, stored);
        },
      };
    },
  };
}

/**
 * A client assigned a profile this host does not define (a typo at `client create`, a deleted
 * file) cannot be told which resources it governs, so it reads and writes nothing rather than
 * everything: failing closed keeps the host's data policy.
 */
function refuseUndefinedAssignment(registry: ProfileRegistry, client: ClientRecord): void {
  const missing = client.profiles.find((name) => !registry.find(name));
  if (missing) {
    throw new ApiError(403, 'profile_not_defined', `this client is assigned the profile "${missing}", which this host does not define; ask the host to define it or unassign it`);
  }
}

const contentOf = (rules: ResourceRules, usage: Usage) => (usage === 'readable' ? rules.read : rules.write);

/**
 * The client's assigned profiles that cover this resource, for either usage, and the content
 * each has for this usage. As in the ODS/API, a profile that covers a resource governs every
 * request for it: a client whose profile covers Student only for reading cannot write Student
 * with plain JSON either (the Profile suite's read-only profile answers 405 to any write).
 */
function coveringProfiles(registry: ProfileRegistry, client: ClientRecord, resource: ResourceMeta, usage: Usage): Array<{ name: string; allows: boolean }> {
  return client.profiles.flatMap((name) => {
    const profile = registry.find(name);
    const rules = profile && registry.rulesFor(profile, resource);
    return profile && rules ? [{ name: profile.name, allows: Boolean(contentOf(rules, usage)) }] : [];
  });
}

function refuseIfProfileRequired(registry: ProfileRegistry, client: ClientRecord, resource: ResourceMeta, usage: Usage): void {
  const covering = coveringProfiles(registry, client, resource, usage);
  if (!covering.length) return;
  const governing = covering.filter((p) => p.allows).map((p) => p.name);
  if (!governing.length) {
    const verb = usage === 'readable' ? 'reading' : 'writing';
    const names = covering.map((p) => `"${p.name}"`).join(', ');
    throw new ApiError(405, 'profile_method_not_allowed', `this client's assigned profile ${names} covers ${resource.name} but does not allow ${verb} it`);
  }
  const allowed = governing.map((name) => profileMediaType(resource, name, usage));
  const header = usage === 'readable' ? 'Accept' : 'Content-Type';
  throw new ApiError(
    403,
    'profile_required',
    `this client is assigned a profile for ${resource.name}; send ${header}: ${allowed.join(' or ')}`,
    { allowedMediaTypes: allowed },
  );
}

/** The error table of contract section 6, checked from the media type inwards. */
function chosenProfile(
  registry: ProfileRegistry,
  requested: ProfileMediaType,
  resource: ResourceMeta,
  client: ClientRecord,
  usage: Usage,
): { profile: string; rules: ResourceRules; content: ClassRules } {
  const header = usage === 'readable' ? 'Accept' : 'Content-Type';
  if (requested.usage !== usage) {
    const expected = usage === 'readable' ? 'a readable type to read (GET)' : 'a writable type to write (POST, PUT)';
    throw new ApiError(400, 'profile_usage_mismatch', `${header} ${requested.text} is ${requested.usage}; use ${expected}`);
  }
  const profile = registry.find(requested.profile);
  if (!profile) {
    const [status, outcome] = usage === 'readable' ? [406, 'served'] : [415, 'accepted'];
    throw new ApiError(status, 'unknown_profile', `no profile named "${requested.profile}" is defined on this host, so ${requested.text} cannot be ${outcome}`);
  }
  const rules = registry.rulesFor(profile, resource);
  if (requested.resource.toLowerCase() !== resource.mediaName.toLowerCase()) {
    throw new ApiError(400, 'invalid_profile_usage', `${requested.text} names the resource "${requested.resource}", but this is ${resource.name} (${resource.mediaName})`);
  }
  if (!rules) throw new ApiError(400, 'invalid_profile_usage', `profile "${profile.name}" does not cover ${resource.name}`);
  if (!client.profiles.some((name) => name.toLowerCase() === profile.name.toLowerCase())) {
    throw new ApiError(403, 'profile_not_assigned', `profile "${profile.name}" is not assigned to this client`);
  }
  const content = contentOf(rules, usage);
  if (!content) {
    const verb = usage === 'readable' ? 'reading' : 'writing';
    throw new ApiError(405, 'profile_method_not_allowed', `profile "${profile.name}" does not allow ${verb} ${resource.name}`);
  }
  return { profile: profile.name, rules, content };
}

function cannotCreate(profile: string, resource: ResourceMeta, missing: string[]): ApiError {
  return new ApiError(
    400,
    'data_policy_enforced',
    `profile "${profile}" cannot create ${resource.name}: it does not let you write the required ${missing.join(', ')}; it can only update existing items`,
  );
}
