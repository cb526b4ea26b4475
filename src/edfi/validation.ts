import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';

import { ApiError } from '../errors.js';
import { equalityViolations } from './document-info.js';
import type { ResourceDeclaration } from './resource.js';

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

/**
 * Validators compiled on a resource's first write and kept (Meadowlark ResourceSchemaValidation):
 * the whole Data Standard holds over 300 schemas, and compiling them all would cost start-up
 * seconds and memory for resources a deployment may never receive.
 */
export class ResourceValidator {
  private readonly validators = new Map<string, ValidateFunction>();
  // Not strict: the schemas are data (an ApiSchema), not code this project can correct.
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });

  constructor() {
    addFormats(this.ajv);
  }

  private validatorOf(resource: ResourceDeclaration): ValidateFunction {
    const key = `${resource.project}/${resource.name}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(resource.schema);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Throws 400 data_validation_failed with errors keyed by JSON path; equality constraints are checked too. */
  check(resource: ResourceDeclaration, body: unknown): asserts body is Body {
    const validate = this.validatorOf(resource);
    if (validate(body)) {
      const violations = equalityViolations(resource, body as Body);
      if (Object.keys(violations).length) throw validationFailed(violations);
      return;
    }
    const errors: Record<string, string[]> = {};
    for (const error of validate.errors ?? []) (errors[jsonPath(error)] ??= []).push(messageOf(error));
    throw validationFailed(errors);
  }
}
