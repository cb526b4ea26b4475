import type { ResourceDeclaration } from '../resource.js';
import { collection, descriptor, edorgId, educationOrganizationCategories, reference, resourceSchema, text } from './schema-parts.js';

export const schools: ResourceDeclaration = {
  name: 'schools',
  edfiName: 'School',
  mediaName: 'school',
  schema: resourceSchema(
    'School',
    {
      schoolId: edorgId,
      nameOfInstitution: text(75),
      shortNameOfInstitution: text(75),
      webSite: text(255),
      localEducationAgencyReference: reference('localEducationAgencyId', edorgId),
      educationOrganizationCategories,
      gradeLevels: collection({ type: 'object', properties: { gradeLevelDescriptor: descriptor }, required: ['gradeLevelDescriptor'] }),
      schoolTypeDescriptor: descriptor,
    },
    ['schoolId', 'nameOfInstitution', 'educationOrganizationCategories'],
  ),
  identity: ['schoolId'],
  key: ['schoolId'],
  columns: { edorg_id: 'schoolId' },
  references: [{ member: 'localEducationAgencyReference', field: 'localEducationAgencyId', target: { edorgTypes: ['lea'] }, optional: true }],
  reach: 'edorgSelf',
  edorg: {
    type: 'school',
    idPath: 'schoolId',
    parentPaths: ['localEducationAgencyReference.localEducationAgencyId'],
    bodyFor: ({ id, name, parentId }) => ({
      schoolId: id,
      nameOfInstitution: name,
      ...(parentId === null ? {} : { localEducationAgencyReference: { localEducationAgencyId: parentId } }),
      educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#School' }],
    }),
  },
};
