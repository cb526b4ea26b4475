import fc from 'fast-check';

/** The JSON Schema subset edgate's resource and roster schemas use. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  enum?: readonly unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * Values for members whose name says what they refer to, so that a fair share of generated bodies
 * name things that exist (schools in reach, a student created earlier) and reach the deep code
 * paths (reference checks, reach, writes) instead of stopping at the first unknown id.
 */
export interface Hints {
  edorgIds: number[];
  uniqueIds: string[];
}

const dateArbitrary = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));

function stringArbitrary(name: string, schema: JsonSchema, hints: Hints): fc.Arbitrary<string> {
  if (schema.format === 'date') return dateArbitrary;
  if (schema.format === 'email') return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 128));
  if (/UniqueId$/.test(name)) return fc.oneof(fc.constantFrom(...hints.uniqueIds), fc.stringMatching(/^[A-Za-z0-9._-]{1,32}$/));
  if (/Descriptor$/.test(name)) {
    return fc
      .tuple(fc.constantFrom('uri://ed-fi.org', 'uri://gb.example'), fc.constantFrom('GradeLevelDescriptor', 'SexDescriptor', 'AttendanceEventCategoryDescriptor'), fc.constantFrom('Ninth grade', 'Female', 'In Attendance', 'Tardy', 'x'))
      .map(([ns, type, code]) => `${ns}/${type}#${code}`);
  }
  if (name === 'namespace') return fc.constantFrom('uri://gb.example', 'uri://gb.example/assessments', 'uri://ed-fi.org/x');
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 40, 40);
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Infinity));
  return fc.string({ minLength, maxLength, unit: 'grapheme' });
}

function integerArbitrary(name: string, schema: JsonSchema, hints: Hints): fc.Arbitrary<number> {
  const range = fc.integer({ min: schema.minimum ?? -1_000_000, max: Math.min(schema.maximum ?? 1_000_000_000, Number.MAX_SAFE_INTEGER) });
  return /Id$/.test(name) ? fc.oneof(fc.constantFrom(...hints.edorgIds), range) : range;
}

/** Valid values for a schema (as far as the generator knows validity: patterns, formats, ranges, required members). */
export function valid(schema: JsonSchema, hints: Hints, name = ''): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const properties = schema.properties ?? {};
      const shape = Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, valid(sub, hints, key)]));
      return fc.record(shape, { requiredKeys: [...(schema.required ?? [])] as never[] });
    }
    case 'array':
      return fc.array(valid(schema.items ?? {}, hints, name), { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, 3) });
    case 'string':
      return stringArbitrary(name, schema, hints);
    case 'integer':
      return integerArbitrary(name, schema, hints);
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9 });
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue();
  }
}

/** Something other than what the schema wants: another JSON type, or a string that breaks its rules. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom('', ' ', '\u0000', '\uD800', 'é'.repeat(400), 'x'.repeat(20_000), "'; drop table edfi_documents; --", '../../etc/passwd', '2025-02-30', '1e309', '#'),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 3 }),
);

type Body = Record<string, unknown>;

/** One mutation of a valid object body: a member removed, retyped, broken, or a stranger added; or not an object at all. */
export function mutated(schema: JsonSchema, hints: Hints): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema.properties ?? {});
  const base = valid(schema, hints) as fc.Arbitrary<Body>;
  return fc.oneof(
    fc.tuple(base, fc.constantFrom(...keys)).map(([body, key]) => {
      const { [key]: _dropped, ...rest } = body;
      return rest;
    }),
    fc.tuple(base, fc.constantFrom(...keys), wrongValue).map(([body, key, value]) => ({ ...body, [key]: value })),
    fc.tuple(base, fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue()).map(([body, key, value]) => ({ ...body, [key]: value })),
    fc.tuple(base, fc.constantFrom('id', '_etag', '__proto__', 'constructor', 'link')).map(([body, key]) => JSON.parse(JSON.stringify({ ...body }).replace(/^\{/, `{"${key}":"x",`)) as unknown),
    fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
    nested(40),
  );
}

/** A deeply nested value: parsers and validators must not recurse into trouble. */
function nested(depth: number): fc.Arbitrary<unknown> {
  return fc.integer({ min: 1, max: depth }).map((d) => {
    let value: unknown = 1;
    for (let i = 0; i < d * 25; i++) value = { a: value };
    return value;
  });
}

/** Raw bodies that are not JSON, or barely: the parser's edge. */
export const rawBodies: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.constantFrom('', '{', '{"a":', '[]', 'null', '"x"', '{"students":', '\uFEFF{}', '{"a":1}{"b":2}', '{"__proto__":{"admin":true}}'),
  fc.json().map((j) => j.slice(0, Math.max(1, j.length - 1))),
);
