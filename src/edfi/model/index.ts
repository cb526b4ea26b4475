import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { fromRoot } from '../../config/paths.js';
import type { ResourceDeclaration } from '../resource-declaration.js';
import type { ResourceMeta } from '../resource-meta.js';
import { declareResources, type ProjectionSpec } from './declare.js';
import { loadApiModel } from './load.js';

/** edgate's own model: the resources and descriptors the embedded default serves, in ApiSchema form. */
export const embeddedModelFile = fromRoot('config', 'edfi', 'edgate.ApiSchema.json');
const projectionsFile = fromRoot('config', 'edfi', 'projections.json');

const pathKey = (project: string, name: string) => `${project}/${name}`.toLowerCase();

/** The model the API serves: every resource, looked up by project and URL name. */
export class EdfiModel {
  private readonly byPath: Map<string, ResourceDeclaration>;

  constructor(
    readonly resources: ResourceDeclaration[],
    readonly sources: string[],
  ) {
    this.byPath = new Map(resources.map((r) => [pathKey(r.project, r.name), r]));
  }

  /**
   * A resource by project and URL name (`ed-fi`, `students`), in any letter case, as the ODS/API routes them
   * (`/ed-fi/StudentSchoolAssociations`). Only the name is looked up this way: authorisation then works on the
   * declaration found, never on the text the client sent.
   */
  find(project: string, name: string): ResourceDeclaration | undefined {
    return this.byPath.get(pathKey(project, name));
  }

  /** A core (ed-fi) resource; the SIS sync and the seed write these. */
  named(name: string): ResourceDeclaration | undefined {
    return this.find('ed-fi', name);
  }

  get projects(): string[] {
    return [...new Set(this.resources.map((r) => r.project))];
  }

  /** What the profiles layer validates its definitions against. */
  get metas(): ResourceMeta[] {
    return this.resources;
  }
}

function readProjections(): Record<string, ProjectionSpec> {
  const raw = JSON.parse(readFileSync(projectionsFile, 'utf8')) as Record<string, unknown>;
  delete raw.$comment;
  return raw as Record<string, ProjectionSpec>;
}

/** Reads the configured ApiSchema files (or the embedded model) and derives every declaration from them. */
export function loadEdfiModel(files: string[] = []): EdfiModel {
  const paths = files.length ? files.map((f) => resolve(f)) : [embeddedModelFile];
  const model = loadApiModel(paths);
  return new EdfiModel(declareResources(model, readProjections()), model.sources);
}

let embedded: EdfiModel | undefined;

/** The embedded model, read once per process (tests and CLI commands that need no configuration). */
export function embeddedModel(): EdfiModel {
  embedded ??= loadEdfiModel();
  return embedded;
}
