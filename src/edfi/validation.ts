import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

import { ApiError } from '../errors.js';
import { schemaValidator } from './ajv.js';
import { equalityViolations } from './document-info.js';
import { duplicateItems } from './duplicate-items.js';
import { upperFirst } from './names.js';
import type { ResourceDeclaration } from './resource-declaration.js';

type Body = Record<string, unknown>;

/** `/electronicMails/0/electronicMailAddress` → `$.electronicMails[0].electronicMailAddress`. */
function jsonPath(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = (error.params as { missingProperty?: string; additionalProperty?: string }).missingProperty ?? (error.params as { additionalProperty?: string }).additionalProperty;
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), '$');
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'required') return `${upperFirst((error.params as { missingProperty: string }).missingProperty)} is required.`;
  if (error.keyword === 'additionalProperties') return `${(error.params as { additionalProperty: string }).additionalProperty} is not a member of this resource.`;
  // An empty date or timestamp: the ODS/API cannot read it as one, and says so.
  if (error.keyword === 'format' && error.data === '') return 'The supplied value is invalid.';
  return boundMessage(error) ?? `${error.message ?? 'is invalid'}.`;
}

/** The reference an error lies directly in (`…/courseOfferingReference`), if any. */
const inReference = (error: ErrorObject) => /Reference$/.test(error.instancePath.split('/').pop() ?? '');

/** The JSON path of the object an error lies in, whatever member it names. */
const objectPath = (error: ErrorObject) => jsonPath({ ...error, params: {} });

/**
 * A reference that lacks members is reported whole, as the ODS/API reports it ("CourseOfferingReference is missing the
 * following properties: SchoolId, SchoolYear").
 */
function referenceProblems(errors: ErrorObject[]): { problems: Problems; handled: Set<ErrorObject> } {
  const missing = new Map<string, string[]>();
  for (const error of errors.filter((e) => e.keyword === 'required' && inReference(e))) {
    const members = missing.get(objectPath(error)) ?? [];
    missing.set(objectPath(error), [...members, upperFirst((error.params as { missingProperty: string }).missingProperty)]);
  }
  const problems: Problems = {};
  for (const [path, members] of missing) problems[path] = [`${upperFirst(path.split('.').pop()!)} is missing the following properties: ${members.join(', ')}`];
  const handled = new Set(errors.filter((e) => e.keyword === 'required' && inReference(e)));
  return { problems, handled };
}

interface Bounds {
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * A length or range failure in the ODS/API's words, which name the member and both bounds
 * ("City must be between 2 and 30 characters in length.", "MaxRawScore must be between -9.99 and 9.99.").
 */
function boundMessage(error: ErrorObject): string | undefined {
  const bounds = (error.parentSchema ?? {}) as Bounds;
  const member = error.instancePath.split('/').filter((part) => part && !/^\d+$/.test(part)).pop() ?? 'Value';
  const name = upperFirst(member);
  if (error.keyword === 'minLength' || error.keyword === 'maxLength') {
    // Only a required member reaches here empty (an empty optional one is left out); the ODS/API words it so.
    if (error.data === '') return `${name} is required and should not be left empty.`;
    const { minLength = 0, maxLength } = bounds;
    if (maxLength === undefined) return `${name} must be at least ${minLength} characters in length.`;
    // A minimum of one only says "not empty", which has its own message above; the ODS/API on Data Standard 5 words
    // such a bound "at most".
    return minLength > 1 ? `${name} must be between ${minLength} and ${maxLength} characters in length.` : `${name} must be at most ${maxLength} characters in length.`;
  }
  if (error.keyword === 'minimum' || error.keyword === 'maximum') {
    const { minimum, maximum } = bounds;
    if (minimum !== undefined && maximum !== undefined) return `${name} must be between ${minimum} and ${maximum}.`;
    return minimum !== undefined ? `${name} must be greater than or equal to ${minimum}.` : `${name} must be less than or equal to ${maximum}.`;
  }
  return undefined;
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
}

const numericString = /^-?\d+(\.\d+)?$/;

/** The schema's own spelling of a member sent in another letter case; undefined when it has none. */
function memberNamed(schema: SchemaNode, sent: string): string | undefined {
  const lower = sent.toLowerCase();
  return Object.keys(schema.properties ?? {}).find((name) => name.toLowerCase() === lower);
}

/**
 * What real Ed-Fi clients send, read as the ODS/API reads it: a numeric string where the schema wants a number
 * (`"schoolId":"255901001"`) is that number, an empty string in an optional member is the member left out, a member
 * named in another letter case is the schema's member, and a member the schema does not have is ignored, at any depth,
 * as the ODS/API's JSON reader ignores it (a later Data Standard's member, a reference's `link` that GET answers carry,
 * `_etag` sent back). Anything else is left for the schema to judge.
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
    for (const [sent, member] of Object.entries(value as Record<string, unknown>)) {
      const name = schema.properties[sent] ? sent : memberNamed(schema, sent);
      if (name === undefined) continue;
      const memberSchema = schema.properties[name];
      if (member === '' && memberSchema.type === 'string' && !required.has(name)) continue;
      out[name] = normaliseBody(memberSchema, member);
    }
    return out;
  }
  return value;
}

/**
 * A descriptor member's pattern (edgate's model has one) says less than the descriptor check, which refuses the same
 * values in the ODS/API's words (descriptor-values.ts); the schema leaves them to it.
 */
function leftToDescriptorCheck(resource: ResourceDeclaration, error: ErrorObject): boolean {
  if (error.keyword !== 'pattern') return false;
  const member = jsonPath(error).replace(/^\$\./, '').replace(/\[\d+\]/g, '[*]');
  return resource.references.some((reference) => reference.isDescriptor && reference.parts[0].path === member);
}

/** What is wrong with a body, keyed by JSON path (`$.addresses[0].city`), as `validationErrors` carries it. */
export type Problems = Record<string, string[]>;

export function validationFailed(errors: Problems): ApiError {
  return new ApiError('data_validation_failed', "Data validation failed. See 'validationErrors' for details.", { validationErrors: errors, errors: [] });
}

/**
 * Validators compiled on a resource's first write and kept (Meadowlark ResourceSchemaValidation):
 * the whole Data Standard holds over 300 schemas, and compiling them all would cost start-up
 * seconds and memory for resources a deployment may never receive.
 */
export class ResourceValidator {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = schemaValidator({ allErrors: true });

  private validatorOf(resource: ResourceDeclaration): ValidateFunction {
    const key = `${resource.project}/${resource.name}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(resource.schema);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /**
   * The body as the schema reads it (numeric strings, empty optional strings, unknown members ignored): see
   * `normaliseBody`. A client-sent `id` stays, for the routes to refuse or check.
   */
  normalise(resource: ResourceDeclaration, body: Body): Body {
    const normalised = normaliseBody(resource.schema as SchemaNode, body) as Body;
    return 'id' in body ? { id: body.id, ...normalised } : normalised;
  }

  /**
   * What the schema finds wrong with a body, keyed by JSON path; duplicate collection items are reported with the
   * schema's errors, as the ODS/API reports both, and equality constraints are checked on a body the schema accepts.
   */
  problems(resource: ResourceDeclaration, body: unknown): Problems {
    const validate = this.validatorOf(resource);
    const errors: Problems = duplicateItems(resource, body);
    if (validate(body)) return { ...errors, ...equalityViolations(resource, body as Body) };
    const { problems, handled } = referenceProblems(validate.errors ?? []);
    Object.assign(errors, problems);
    for (const error of validate.errors ?? []) {
      if (!handled.has(error) && !leftToDescriptorCheck(resource, error)) (errors[jsonPath(error)] ??= []).push(messageOf(error));
    }
    return errors;
  }

  /** Throws 400 data_validation_failed with the problems of `problems`. */
  check(resource: ResourceDeclaration, body: unknown): asserts body is Body {
    const problems = this.problems(resource, body);
    if (Object.keys(problems).length) throw validationFailed(problems);
  }
}
