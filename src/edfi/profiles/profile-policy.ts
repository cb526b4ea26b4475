import type { ClientRecord } from '../../db/clients.js';
import { ApiError } from '../../errors.js';
import type { ContentPolicy, ReadRepresentation, WriteRepresentation } from './content-policy.js';
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
      const { profile, content } = chosenProfile(registry, requested, resource, client, 'readable', 'GET');
      return {
        contentType: profileMediaType(resource, profile, 'readable'),
        shape: (item) => shapeForRead(content, item),
        readable: (path) => includesPath(content, path),
      };
    },

    forWrite({ contentType, resource, client, method = 'POST' }): WriteRepresentation {
      refuseUndefinedAssignment(registry, client);
      const requested = requestedForWrite(contentType);
      if (!requested) {
        refuseIfProfileRequired(registry, client, resource, 'writable');
        return { filter: (incoming) => incoming };
      }
      const { profile, rules, content } = chosenProfile(registry, requested, resource, client, 'writable', method);
      return {
        filter(incoming, stored) {
          if (!incoming || typeof incoming !== 'object' || Array.isArray(incoming)) return incoming; // validation reports it
          if (!stored && rules.requiredNotWritable.length) throw cannotCreate(profile, resource, rules.requiredNotWritable);
          return mergeForWrite(content, incoming, stored, profile);
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
    const state = registry.invalidProfile(missing) ? 'defines but cannot serve (see `edgate profiles check`)' : 'does not define';
    throw new ApiError('profile_not_defined', `this client is assigned the profile "${missing}", which this host ${state}; ask the host to fix it or unassign it`);
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
    throw new ApiError('profile_method_not_allowed', `this client's assigned profile ${names} covers ${resource.name} but does not allow ${verb} it`);
  }
  const allowed = governing.map((name) => profileMediaType(resource, name, usage));
  const header = usage === 'readable' ? 'Accept' : 'Content-Type';
  throw new ApiError('profile_required', `this client is assigned a profile for ${resource.name}; send ${header}: ${allowed.join(' or ')}`, {
    allowedMediaTypes: allowed,
    errors: [requiredTypesMessage(allowed, usage)],
  });
}

/** The ODS/API's words for "use one of your assigned profiles". */
function requiredTypesMessage(allowed: string[], usage: Usage): string {
  const when = usage === 'readable' ? 'requesting this resource' : 'creating or updating this resource';
  const listed = allowed.map((t) => `'${t}'`).join(', ');
  return allowed.length === 1
    ? `Based on profile assignments, the following profile-specific content type is required when ${when}: ${listed}`
    : `Based on profile assignments, one of the following profile-specific content types is required when ${when}: ${listed}`;
}

/**
 * The error table of contract section 6, checked from the media type inwards. A client whose assigned profiles do
 * not cover the resource may opt into any profile ("callers can choose to use any Profile"); one whose assigned
 * profiles cover it must name one of those.
 */
function chosenProfile(
  registry: ProfileRegistry,
  requested: ProfileMediaType,
  resource: ResourceMeta,
  client: ClientRecord,
  usage: Usage,
  method: string,
): { profile: string; rules: ResourceRules; content: ClassRules } {
  const header = usage === 'readable' ? 'Accept' : 'Content-Type';
  if (requested.usage !== usage) {
    const expected = usage === 'readable' ? 'a readable type to read (GET)' : 'a writable type to write (POST, PUT)';
    throw new ApiError('profile_usage_mismatch', `${header} ${requested.text} is ${requested.usage}; use ${expected}`, {
      errors: [`A profile-based content type that is ${requested.usage} cannot be used with ${method.toUpperCase()} requests.`],
    });
  }
  if (registry.invalidProfile(requested.profile)) {
    // The ODS/API's answer to a profile that is configured but invalid, for reads and writes alike.
    throw new ApiError('invalid_profile', `profile "${requested.profile}" is defined on this host but invalid, so ${requested.text} cannot be used`, {
      errors: [`The profile specified by the content type in the '${header}' header is configured but invalid.`],
    });
  }
  const profile = registry.find(requested.profile);
  if (!profile) {
    const [status, outcome] = usage === 'readable' ? [406, 'served'] : [415, 'accepted'];
    throw new ApiError(
      'unknown_profile',
      `no profile named "${requested.profile}" is defined on this host, so ${requested.text} cannot be ${outcome}`,
      { errors: [`The profile specified by the content type in the '${header}' header is not supported by this host.`] },
      {},
      status,
    );
  }
  const rules = registry.rulesFor(profile, resource);
  if (requested.resource.toLowerCase() !== resource.mediaName.toLowerCase()) {
    throw new ApiError('invalid_profile_usage', 'The request construction was invalid with respect to usage of a data policy.', {
      errors: [`The resource specified by the profile-based content type ('${requested.resource}') does not match the requested resource ('${resource.edfiName}').`],
    });
  }
  if (!rules) {
    throw new ApiError('invalid_profile_usage', 'The request construction was invalid with respect to usage of a data policy. The resource is not contained by the profile used by (or applied to) the request.',
      { errors: [`Resource '${resource.edfiName}' is not accessible through the '${requested.profile}' profile specified by the content type.`] },
    );
  }
  const covering = coveringProfiles(registry, client, resource, usage);
  if (covering.length && !covering.some((p) => p.name.toLowerCase() === profile.name.toLowerCase())) {
    const governing = covering.filter((p) => p.allows);
    const allowed = (governing.length ? governing : covering).map((p) => profileMediaType(resource, p.name, usage));
    throw new ApiError('profile_not_assigned', `profile "${profile.name}" is not assigned to this client`, { errors: [requiredTypesMessage(allowed, usage)] });
  }
  const content = contentOf(rules, usage);
  if (!content) {
    const verb = usage === 'readable' ? 'reading' : 'writing';
    const able = usage === 'readable' ? 'readable' : 'writable';
    throw new ApiError('profile_method_not_allowed', `The request construction was invalid with respect to usage of a data policy. An attempt was made to access a resource that is not ${able} using the profile.`,
      { errors: [`Resource class '${resource.edfiName}' is not ${able} using API profile '${requested.profile}'.`, `profile "${profile.name}" does not allow ${verb} ${resource.name}`] },
    );
  }
  return { profile: profile.name, rules, content };
}

function cannotCreate(profile: string, resource: ResourceMeta, missing: string[]): ApiError {
  return new ApiError(
    'data_policy_enforced',
    `profile "${profile}" cannot create ${resource.name}: it does not let you write the required ${missing.join(', ')}; it can only update existing items`,
    {
      errors: [
        `The Profile definition for '${profile.toLowerCase()}' excludes (or does not include) one or more required data elements needed to create the resource.`,
        `profile "${profile}" cannot create ${resource.name}: it does not let you write the required ${missing.join(', ')}; it can only update existing items`,
      ],
    },
  );
}
