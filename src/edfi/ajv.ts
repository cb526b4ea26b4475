import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule.default as unknown as (ajv: Ajv2020) => Ajv2020;

/**
 * The one Ajv setup for the model's schemas (JSON Schema 2020-12, with formats). Not strict: the schemas are data
 * (an ApiSchema), not code this project can correct. `allErrors` is the caller's choice: the resource API reports
 * every invalid member, SIS sync stops at the first.
 */
export function schemaValidator(options: { allErrors: boolean }): Ajv2020 {
  // verbose: an error carries its schema, so a message can name both bounds of a length or range (validation.ts).
  const ajv = addFormats(new Ajv2020({ allErrors: options.allErrors, strict: false, allowUnionTypes: true, verbose: true }));
  // Ed-Fi's times and timestamps may leave out the offset (`08:15:00`, `2021-09-28T15:00:00`), as the ODS/API reads
  // them (local time); RFC 3339, which ajv-formats checks by default, requires one. A timestamp may also be a date
  // alone (`2021-09-28`, that day's midnight), which the ODS/API accepts too and Ed-Fi's own suites send.
  ajv.addFormat('time', localTime);
  ajv.addFormat('date-time', { type: 'string', validate: (value: string) => localDateTime.test(value) && !Number.isNaN(Date.parse(value.slice(0, 10))) });
  return ajv;
}

const localTime = /^(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,7})?)?(?:z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?$/i;
const localDateTime = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[t ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,7})?)?(?:z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?$/i;
