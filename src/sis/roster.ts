import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

import { embeddedModel, type EdfiModel } from '../edfi/model/index.js';
import { ApiError } from '../errors.js';
import { schemaValidator } from '../edfi/ajv.js';

/** One roster record: a student and their association with one school (contract section 7). */
export interface RosterRecord {
  studentUniqueId: string;
  firstName: string;
  lastSurname: string;
  birthDate: string;
  schoolId: number;
  entryDate: string;
  entryGradeLevelDescriptor?: string;
}

type Schema = Record<string, unknown> & { properties?: Record<string, Schema> };

/**
 * A roster record is a Student and its StudentSchoolAssociation flattened, so every member takes its
 * schema from the model the resource API validates with: a record the sync accepts is a document
 * the API accepts too (no second definition to drift).
 */
function recordSchemaOf(model: EdfiModel): Schema {
  const student = model.named('students')?.schema as Schema | undefined;
  const association = model.named('studentSchoolAssociations')?.schema as Schema | undefined;
  if (!student?.properties || !association?.properties) throw new Error('the model serves no students or studentSchoolAssociations: SIS sync needs both');
  const of = (schema: Schema, member: string): Schema => {
    const property = schema.properties?.[member];
    if (!property) throw new Error(`the model's ${String(schema.title)} has no ${member}: SIS sync needs it`);
    const { description, ...rest } = property;
    void description;
    return rest;
  };
  return {
    type: 'object',
    required: ['studentUniqueId', 'firstName', 'lastSurname', 'birthDate', 'schoolId', 'entryDate'],
    additionalProperties: false,
    properties: {
      studentUniqueId: of(student, 'studentUniqueId'),
      firstName: of(student, 'firstName'),
      lastSurname: of(student, 'lastSurname'),
      birthDate: of(student, 'birthDate'),
      // A digit string is taken too, as the ODS/API's JSON binding does; it is stored as the integer.
      schoolId: { type: ['integer', 'string'], minimum: 1, maximum: Number.MAX_SAFE_INTEGER, pattern: '^[1-9][0-9]{0,14}$' },
      entryDate: of(association, 'entryDate'),
      entryGradeLevelDescriptor: of(association, 'entryGradeLevelDescriptor'),
    },
  };
}

/** What each member must look like, in words for the person reading the error. */
const memberRules: Record<string, string> = {
  studentUniqueId: "must be a studentUniqueId as the Student resource defines it (1–32 letters, digits, '.', '_' or '-')",
  firstName: 'must be a string of 1–75 characters',
  lastSurname: 'must be a string of 1–75 characters',
  birthDate: 'must be a calendar date written YYYY-MM-DD',
  schoolId: 'must be a positive integer (an Ed-Fi schoolId)',
  entryDate: 'must be a calendar date written YYYY-MM-DD',
  entryGradeLevelDescriptor: 'must be a descriptor URI string, e.g. uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
  students: 'must be an array of student records',
};

interface RosterValidators {
  recordSchema: Schema;
  batch: ValidateFunction;
  record: ValidateFunction;
}

const validatorsByModel = new WeakMap<EdfiModel, RosterValidators>();

/**
 * allErrors is off on purpose: the contract reports the first bad field, and stopping there keeps
 * a bad 5,000-record batch cheap to refuse. Compiled once per model.
 */
function validatorsOf(model: EdfiModel): RosterValidators {
  let validators = validatorsByModel.get(model);
  if (!validators) {
    const ajv = schemaValidator({ allErrors: false });
    const batchSchema = rosterBatchSchemaOf(model);
    const recordSchema = batchSchema.properties.students.items;
    validators = { recordSchema, batch: ajv.compile(batchSchema), record: ajv.compile(recordSchema) };
    validatorsByModel.set(model, validators);
  }
  return validators;
}

/** The request body's JSON Schema: the validators and the OpenAPI document read the same one. */
export function rosterBatchSchemaOf(model: EdfiModel) {
  return { type: 'object', required: ['students'], additionalProperties: false, properties: { students: { type: 'array', items: recordSchemaOf(model) } } };
}

/** The request body's JSON Schema under the embedded model; exported for the property-based tests that generate bodies from it. */
export const rosterBatchSchema = { type: 'object', required: ['students'], additionalProperties: false, properties: { students: { type: 'array', items: recordSchemaOf(embeddedModel()) } } } as const;

/** A refusal located in the roster; the route reports `field`, the push client a line number. */
export interface RosterProblem {
  code: 'missing_field' | 'invalid_field';
  /** Index of the record in the batch or file, when the problem lies in one record. */
  index?: number;
  /** The member within the record, e.g. `birthDate` (empty when the whole record is wrong). */
  member: string;
  /** The sentence for a person; `name` says how to refer to a record (an index, a line number). */
  explain(name: (index: number) => string): string;
}

/** `/students/3/birthDate` → index 3, member `birthDate`. */
function locate(pointer: string): { index?: number; member: string } {
  const parts = pointer.split('/').slice(1);
  if (parts[0] === 'students' && parts.length >= 2) return { index: Number(parts[1]), member: parts.slice(2).join('.') };
  return { member: parts.join('.') };
}

function problemFrom(error: ErrorObject, recordSchema: Schema, pointerPrefix = ''): RosterProblem {
  const at = locate(pointerPrefix + error.instancePath);
  const join = (name: string) => (at.member ? `${at.member}.${name}` : name);
  if (error.keyword === 'required') {
    const member = join(String(error.params.missingProperty));
    return { code: 'missing_field', index: at.index, member, explain: () => 'is required' };
  }
  if (error.keyword === 'additionalProperties') {
    const member = join(String(error.params.additionalProperty));
    return { code: 'invalid_field', index: at.index, member, explain: () => `is not a member of a roster record; allowed: ${Object.keys(recordSchema.properties ?? {}).join(', ')}` };
  }
  if (!at.member) {
    const what = at.index === undefined ? 'the body must be a JSON object {"students": [...]}' : 'must be a JSON object';
    return { code: 'invalid_field', index: at.index, member: '', explain: () => what };
  }
  const rule = memberRules[at.member] ?? error.message ?? 'is not valid';
  return { code: 'invalid_field', index: at.index, member: at.member, explain: () => rule };
}

/** `students[3].birthDate`, the contract's way of naming a field. */
export function fieldPath(problem: Pick<RosterProblem, 'index' | 'member'>): string {
  if (problem.index === undefined) return problem.member || 'body';
  return `students[${problem.index}]${problem.member ? `.${problem.member}` : ''}`;
}

function withNumericSchoolId(record: RosterRecord): RosterRecord {
  return typeof record.schoolId === 'string' ? { ...record, schoolId: Number(record.schoolId) } : record;
}

/** One record on its own (the push client checks each row of a file before sending any). */
export function recordProblem(record: unknown, index: number, model: EdfiModel = embeddedModel()): RosterProblem | undefined {
  const { record: validate, recordSchema } = validatorsOf(model);
  if (validate(record)) return undefined;
  return { ...problemFrom(validate.errors![0], recordSchema, `/students/${index}`), index };
}

const sameStudentMembers = ['firstName', 'lastSurname', 'birthDate'] as const;

export const associationKey = (r: RosterRecord) => `${r.studentUniqueId}\u0000${r.schoolId}\u0000${r.entryDate}`;

/**
 * Rules across records: a student may appear once per school enrolment, but every appearance must
 * agree on who the student is, and one enrolment (student, school, entryDate) may appear only once —
 * otherwise which record wins would depend on order.
 */
export function crossRecordProblem(records: RosterRecord[], offset = 0): RosterProblem | undefined {
  const firstOfStudent = new Map<string, number>();
  const firstOfAssociation = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const earlier = firstOfStudent.get(record.studentUniqueId);
    if (earlier === undefined) firstOfStudent.set(record.studentUniqueId, i);
    else {
      const differing = sameStudentMembers.find((m) => records[earlier][m] !== record[m]);
      if (differing) {
        const other = offset + earlier;
        return { code: 'invalid_field', index: offset + i, member: differing, explain: (name) => `differs from ${name(other)}, which has the same studentUniqueId` };
      }
    }
    const key = associationKey(record);
    const repeated = firstOfAssociation.get(key);
    if (repeated !== undefined) {
      const other = offset + repeated;
      return { code: 'invalid_field', index: offset + i, member: 'entryDate', explain: (name) => `repeats the enrolment of ${name(other)} (same studentUniqueId, schoolId and entryDate)` };
    }
    firstOfAssociation.set(key, i);
  }
  return undefined;
}

function refuse(problem: RosterProblem): never {
  const field = fieldPath(problem);
  const subject = problem.member || problem.index !== undefined ? `${field} ` : '';
  throw new ApiError(problem.code, subject + problem.explain((i) => `students[${i}]`), { field });
}

/**
 * The whole batch is checked before anything is written: size first (413), then the shape of every
 * record (400), then the rules across records.
 */
export function validateBatch(body: unknown, maxBatch: number, model: EdfiModel = embeddedModel()): RosterRecord[] {
  const { batch: validateBatchShape, recordSchema } = validatorsOf(model);
  const students = (body as { students?: unknown } | null)?.students;
  if (Array.isArray(students) && students.length > maxBatch) {
    throw new ApiError('batch_too_large', `a batch holds at most ${maxBatch} students; this one has ${students.length} — split it (edgate sis push does)`, { max: maxBatch });
  }
  if (!validateBatchShape(body)) refuse(problemFrom(validateBatchShape.errors![0], recordSchema));
  const records = (students as RosterRecord[]).map(withNumericSchoolId);
  const problem = crossRecordProblem(records);
  if (problem) refuse(problem);
  return records;
}
