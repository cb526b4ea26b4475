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
  return addFormats(new Ajv2020({ allErrors: options.allErrors, strict: false, allowUnionTypes: true }));
}
