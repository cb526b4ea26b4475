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

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
}

const numericString = /^-?\d+(\.\d+)?$/;

/**
 * What real Ed-Fi clients send, read as the ODS/API reads it: a numeric string where the schema wants a number
 * (`"schoolId":"255901001"`) is that number, and an empty string in an optional member is the member left out.
 * Anything else is left for the schema to judge.
 */
export function normaliseBody(schema: SchemaNode, value: unknown): unknown {
  if ((schema.type === 'integer' || schema.type === 'number') && typeof value === 'string' && numericString.test(value.trim())) {
    const number = Number(value.trim());
    return Number.isSafeInteger(number) || (schema.type === 'number' && Number.isFinite(number)) ? number : value;
  }
  if (schema.type === 'array' && Array.isArray(value) && schema.items) return value.map((item) => normaliseBody(schema.items!, item));
  if (schema.properties && value && typeof value === 'object' && !Array.isArray(value)) {
    const required = new Set(schema.required ?? []);
    const out: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
      const memberSchema = schema.properties[name];
      if (!memberSchema) out[name] = member;
      else if (member === '' && memberSchema.type === 'string' && !required.has(name)) continue;
      else out[name] = normaliseBody(memberSchema, member);
    }
    return out;
  }
  return value;
}

export function validationFailed(errors: Record<string, string[]>): ApiError {
  return new ApiError(400, 'data_validation_failed', "Data validation failed. See 'validationErrors' for details.", { validationErrors: errors, errors: [] });
}

/** Validators compiled once per resource at start-up (Meadowlark ResourceSchemaValidation). */
export class ResourceValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(resources: ResourceDeclaration[]) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    for (const resource of resources) this.validators.set(resource.name, ajv.compile(resource.schema));
  }

  /** The body as the schema reads it (numeric strings, empty optional strings): see `normaliseBody`. */
  normalise(resource: ResourceDeclaration, body: Body): Body {
    return normaliseBody(resource.schema as SchemaNode, body) as Body;
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
