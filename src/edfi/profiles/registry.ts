import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';

import { fromRoot } from '../../config/paths.js';
import type { ProfileMediaTypes } from './media-type.js';
import type { ResourceMeta } from '../resource-meta.js';
import { compileEach, type InvalidProfile } from './compile.js';
import { readJsonProfiles, type ReadProfile } from './json-form.js';
import { profileMediaType } from './media-type.js';
import { ProfileDefinitionError, type ProfileSource } from './model.js';
import type { CompiledProfile, ResourceRules } from './rules.js';
import { readXmlProfiles } from './xml-form.js';

/** The profiles this host serves, looked up by name case-insensitively (media types lower-case them). */
export class ProfileRegistry {
  private readonly byName: Map<string, CompiledProfile>;
  private readonly invalidByName: Map<string, InvalidProfile>;

  constructor(
    readonly profiles: CompiledProfile[],
    /** Defined but unusable: requests naming them answer 406, as the ODS/API answers a misconfigured profile. */
    readonly invalid: InvalidProfile[] = [],
  ) {
    this.byName = new Map(profiles.map((p) => [p.name.toLowerCase(), p]));
    this.invalidByName = new Map(invalid.filter((p) => !this.byName.has(p.name.toLowerCase())).map((p) => [p.name.toLowerCase(), p]));
  }

  find(name: string): CompiledProfile | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The problem of a profile that is defined but could not be put in service. */
  invalidProfile(name: string): InvalidProfile | undefined {
    return this.invalidByName.get(name.toLowerCase());
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
  /** Every problem found, with file, profile and member: reported at start and by `edgate profiles check`. */
  problems: string[];
}

/**
 * Reads and checks every definition in the directory. A bad profile does not stop the host: it is reported and not
 * served (requests naming it answer 406); a file that cannot be read at all is reported likewise. Only a missing
 * directory throws: that is configuration, not a definition.
 */
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
  const unreadable: InvalidProfile[] = [];
  const fileProblems: string[] = [];
  for (const name of files) {
    const path = join(dir, name);
    const shown = displayPath(path);
    const kind = extname(name).toLowerCase();
    if (kind !== '.xml' && kind !== '.json') {
      skipped.push(shown);
      continue;
    }
    try {
      const read = kind === '.xml' ? fromXml(readFileSync(path, 'utf8'), shown) : readJsonProfiles(parseJson(readFileSync(path, 'utf8'), shown), shown);
      sources.push({ file: shown, profiles: read.flatMap((p) => (p.definition ? [p.definition] : [])) });
      for (const p of read) if (p.problem !== undefined) unreadable.push({ name: p.name ?? '', problem: p.problem });
    } catch (err) {
      if (!(err instanceof ProfileDefinitionError)) throw err;
      fileProblems.push(err.message);
    }
  }
  const { compiled, invalid } = compileEach(sources, resources);
  const allInvalid = [...unreadable, ...invalid];
  return {
    registry: new ProfileRegistry(compiled, allInvalid.filter((p) => p.name)),
    dir,
    skipped,
    problems: [...fileProblems, ...allInvalid.map((p) => p.problem)],
  };
}

/** XML profiles, each read into the JSON form and checked as JSON-form profiles are. */
function fromXml(text: string, where: string): ReadProfile[] {
  return readXmlProfiles(text, where).map((p) => {
    if (p.problem !== undefined) return { name: p.name, problem: p.problem };
    const [read] = readJsonProfiles({ profiles: [p.definition] }, where);
    return { name: p.name ?? read.name, definition: read.definition, problem: read.problem };
  });
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
