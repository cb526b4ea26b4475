import type { ResourceDeclaration } from '../resource.js';
import { collection, descriptor, resourceSchema, text } from './schema-parts.js';

export const assessments: ResourceDeclaration = {
  name: 'assessments',
  edfiName: 'Assessment',
  mediaName: 'assessment',
  schema: resourceSchema(
    'Assessment',
    {
      assessmentIdentifier: text(60),
      namespace: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z][A-Za-z0-9+.-]*://\\S+$' },
      assessmentTitle: text(255),
      assessmentVersion: { type: 'integer' },
      assessmentCategoryDescriptor: descriptor,
      maxRawScore: { type: 'number' },
      revisionDate: { type: 'string', format: 'date' },
      academicSubjects: { ...collection({ type: 'object', properties: { academicSubjectDescriptor: descriptor }, required: ['academicSubjectDescriptor'] }), minItems: 1 },
      assessedGradeLevels: collection({ type: 'object', properties: { gradeLevelDescriptor: descriptor }, required: ['gradeLevelDescriptor'] }),
    },
    ['assessmentIdentifier', 'namespace', 'assessmentTitle', 'academicSubjects'],
  ),
  identity: ['assessmentIdentifier', 'namespace'],
  key: ['assessmentIdentifier', 'namespace'],
  columns: {},
  references: [],
  // Ownership, per the claim sets; the reach kind only matters under `relationships`, which no claim set grants here.
  reach: 'edorg',
  namespacePath: 'namespace',
};
