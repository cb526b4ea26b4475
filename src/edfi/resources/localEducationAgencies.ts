import type { ResourceDeclaration } from '../resource.js';
import { descriptor, edorgId, educationOrganizationCategories, reference, resourceSchema, text } from './schema-parts.js';

export const localEducationAgencies: ResourceDeclaration = {
  name: 'localEducationAgencies',
  edfiName: 'LocalEducationAgency',
  mediaName: 'localEducationAgency',
  schema: resourceSchema(
    'LocalEducationAgency',
    {
      localEducationAgencyId: edorgId,
      nameOfInstitution: text(75),
      shortNameOfInstitution: text(75),
      webSite: text(255),
      localEducationAgencyCategoryDescriptor: descriptor,
      educationOrganizationCategories,
      educationServiceCenterReference: reference('educationServiceCenterId', edorgId),
      stateEducationAgencyReference: reference('stateEducationAgencyId', edorgId),
    },
    ['localEducationAgencyId', 'nameOfInstitution', 'localEducationAgencyCategoryDescriptor', 'educationOrganizationCategories'],
  ),
  identity: ['localEducationAgencyId'],
  key: ['localEducationAgencyId'],
  columns: { edorg_id: 'localEducationAgencyId' },
  references: [
    { member: 'educationServiceCenterReference', field: 'educationServiceCenterId', target: { edorgTypes: ['esc'] }, optional: true },
    { member: 'stateEducationAgencyReference', field: 'stateEducationAgencyId', target: { edorgTypes: ['sea'] }, optional: true },
  ],
  reach: 'edorgSelf',
  edorg: {
    type: 'lea',
    idPath: 'localEducationAgencyId',
    // The ed-org tree has one parent: the ESC when given, else the SEA.
    parentPaths: ['educationServiceCenterReference.educationServiceCenterId', 'stateEducationAgencyReference.stateEducationAgencyId'],
    bodyFor: ({ id, name, parentId, parentType }) => ({
      localEducationAgencyId: id,
      nameOfInstitution: name,
      localEducationAgencyCategoryDescriptor: 'uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent',
      educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#Local Education Agency' }],
      ...(parentType === 'esc' ? { educationServiceCenterReference: { educationServiceCenterId: parentId } } : {}),
      ...(parentType === 'sea' ? { stateEducationAgencyReference: { stateEducationAgencyId: parentId } } : {}),
    }),
  },
};
