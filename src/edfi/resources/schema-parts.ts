/** Building blocks of the resource schemas (JSON Schema 2020-12), shaped like the Ed-Fi data standard. */

type Schema = Record<string, unknown>;

/** `uri://ed-fi.org/GradeLevelDescriptor#Ninth grade`: a namespace URI, '#', a code value. */
export const descriptor: Schema = {
  type: 'string',
  maxLength: 306,
  pattern: '^[A-Za-z][A-Za-z0-9+.-]*://[^#\\s]+#\\S(.*\\S)?$',
  description: 'Descriptor URI: namespace#codeValue',
};

export const uniqueId: Schema = { type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._-]+$' };
// Data Standard 5 widened EducationOrganizationId to 64 bits; JSON numbers stay exact up to 2^53 − 1.
export const edorgId: Schema = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
export const date: Schema = { type: 'string', format: 'date' };
export const name75: Schema = { type: 'string', minLength: 1, maxLength: 75 };
export const text = (maxLength: number): Schema => ({ type: 'string', minLength: 1, maxLength });

/** The Ed-Fi name members every person (student, staff, contact) carries. */
export const personName: Record<string, Schema> = {
  personalTitlePrefix: text(30),
  firstName: name75,
  middleName: name75,
  lastSurname: name75,
  generationCodeSuffix: text(10),
};

export function reference(field: string, value: Schema): Schema {
  return { type: 'object', properties: { [field]: value }, required: [field], additionalProperties: false };
}

export function collection(item: Schema): Schema {
  return { type: 'array', items: { ...item, additionalProperties: false } };
}

export function resourceSchema(title: string, properties: Record<string, Schema>, required: string[]): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title,
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  };
}

export const electronicMails = collection({
  type: 'object',
  properties: { electronicMailAddress: { type: 'string', format: 'email', maxLength: 128 }, electronicMailTypeDescriptor: descriptor },
  required: ['electronicMailAddress', 'electronicMailTypeDescriptor'],
});

export const educationOrganizationCategories = {
  ...collection({
    type: 'object',
    properties: { educationOrganizationCategoryDescriptor: descriptor },
    required: ['educationOrganizationCategoryDescriptor'],
  }),
  minItems: 1,
};
