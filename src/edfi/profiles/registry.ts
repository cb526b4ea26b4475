import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';

import { fromRoot } from '../../config/paths.js';
import type { ProfileMediaTypes } from '../openapi.js';
import type { ResourceMeta } from '../resource-meta.js';
import { compileProfiles } from './compile.js';
import { readJsonForm } from './json-form.js';
import { profileMediaType } from './media-type.js';
import { ProfileDefinitionError, type ProfileSource } from './model.js';
import type { CompiledProfile, ResourceRules } from './rules.js';
import { readXmlForm } from './xml-form.js';

/** The profiles this host serves, looked up by name case-insensitively (media types lower-case them). */
export class ProfileRegistry {
  private readonly byName: Map<string, CompiledProfile>;

  constructor(readonly profiles: CompiledProfile[]) {
    this.byName = new Map(profiles.map((p) => [p.name.toLowerCase(), p]));
  }

  find(name: string): CompiledProfile | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** A profile's rules for a resource, if the profile covers it. */
  rulesFor(profile: CompiledProfile, resource: ResourceMeta): ResourceRules | undefined {
    return profile.resources.get(resource.edfiName.toLowerCase());
  }

  /** Every profile media type of a resource, for the OpenAPI document. */
  mediaTypes(resource: ResourceMeta): { profile: string; readable?: string; writable?: string }[] {
    return this.profiles.flatMap((profile) => {
      const rules = this.rulesFor(profile, resource);
      if (!rules) return [];
      return [
        {
          profile: profile.name,
          ...(rules.read && { readable: profileMediaType(resource, profile.name, 'readable') }),
          ...(rules.write && { writable: profileMediaType(resource, profile.name, 'writable') }),
        },
      ];
    });
  }
}

/** The OpenAPI document's view: each profile's media types per resource. */
export function profileMediaTypes(registry: ProfileRegistry): ProfileMediaTypes {
  return (resource) => {
    const types = registry.mediaTypes(resource);
    return { readable: types.flatMap((t) => t.readable ?? []), writable: types.flatMap((t) => t.writable ?? []) };
  };
}

/**
 * A relative profilesDir is taken from the working directory, as the contract's other relative
 * paths are; when it is not there, from the package root, so the shipped config/profiles is found
 * however the server is started.
 */
export function resolveProfilesDir(configured: string, cwd = process.cwd()): string {
  if (isAbsolute(configured)) return configured;
  const fromCwd = resolve(cwd, configured);
  if (existsSync(fromCwd)) return fromCwd;
  const fromPackage = fromRoot(configured);
  return existsSync(fromPackage) ? fromPackage : fromCwd;
}

export interface LoadedProfiles {
  registry: ProfileRegistry;
  dir: string;
  /** Files in the directory that are neither .xml nor .json, left alone (a README, an editor backup). */
  skipped: string[];
}

/** Reads and checks every definition in the directory; any problem throws ProfileDefinitionError. */
export function loadProfiles(configuredDir: string, resources: ResourceMeta[]): LoadedProfiles {
  const dir = resolveProfilesDir(configuredDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ProfileDefinitionError(`profilesDir ${configuredDir} (${dir}) is not a directory; create it or point PROFILES_DIR at the profile definitions`);
  }
  const files = readdirSync(dir)
    .filter((name) => !name.startsWith('.') && statSync(join(dir, name)).isFile())
    .sort();
  const sources: ProfileSource[] = [];
  const skipped: string[] = [];
  for (const name of files) {
    const path = join(dir, name);
    const shown = displayPath(path);
    const kind = extname(name).toLowerCase();
    if (kind === '.xml') sources.push({ file: shown, profiles: readJsonForm(readXmlForm(readFileSync(path, 'utf8'), shown), shown) });
    else if (kind === '.json') sources.push({ file: shown, profiles: readJsonForm(parseJson(readFileSync(path, 'utf8'), shown), shown) });
    else skipped.push(shown);
  }
  return { registry: new ProfileRegistry(compileProfiles(sources, resources)), dir, skipped };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProfileDefinitionError(`${where}: not valid JSON: ${(err as Error).message}`);
  }
}

/** Paths in messages relative to the working directory when that is shorter: "config/profiles/x.xml". */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
