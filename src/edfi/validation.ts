import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';

import { ApiError } from '../errors.js';
import { valueAt, type ResourceDeclaration } from './resource.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv2020) => Ajv2020;

type Body = Record<string, unknown>;

/** `/electronicMails/0/electronicMailAddress` → `$.electronicMails[0].electronicMailAddress`. */
function jsonPath(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = (error.params as { missingProperty?: string; additionalProperty?: string }).missingProperty ?? (error.params as { additionalProperty?: string }).additionalProperty;
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), '$');
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'required') return `${(error.params as { missingProperty: string }).missingProperty} is required.`;
  if (error.keyword === 'additionalProperties') return `${(error.params as { additionalProperty: string }).additionalProperty} is not a member of this resource.`;
  return `${error.message ?? 'is invalid'}.`;
}

export function validationFailed(errors: Record<string, string[]>): ApiError {
  return new ApiError(400, 'data_validation_failed', 'Data validation failed. See validationErrors for details.', { validationErrors: errors });
}

/** Validators compiled once per resource at start-up (Meadowlark ResourceSchemaValidation). */
export class ResourceValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(resources: ResourceDeclaration[]) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    for (const resource of resources) this.validators.set(resource.name, ajv.compile(resource.schema));
  }

  /** True when every natural-key member holds a string or number (enough to look the item up). */
  hasKey(resource: ResourceDeclaration, body: Body): boolean {
    return resource.key.every((path) => ['string', 'number'].includes(typeof valueAt(body, path)));
  }

  /** Throws 400 data_validation_failed with errors keyed by JSON path. */
  check(resource: ResourceDeclaration, body: unknown): asserts body is Body {
    const validate = this.validators.get(resource.name)!;
    if (validate(body)) return;
    const errors: Record<string, string[]> = {};
    for (const error of validate.errors ?? []) (errors[jsonPath(error)] ??= []).push(messageOf(error));
    throw validationFailed(errors);
  }
}
