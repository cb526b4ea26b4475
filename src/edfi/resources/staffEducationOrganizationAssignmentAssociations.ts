import type { ResourceDeclaration } from '../resource.js';
import { date, descriptor, edorgId, reference, resourceSchema, text, uniqueId } from './schema-parts.js';

export const staffEducationOrganizationAssignmentAssociations: ResourceDeclaration = {
  name: 'staffEducationOrganizationAssignmentAssociations',
  edfiName: 'StaffEducationOrganizationAssignmentAssociation',
  mediaName: 'staffEducationOrganizationAssignmentAssociation',
  schema: resourceSchema(
    'StaffEducationOrganizationAssignmentAssociation',
    {
      staffReference: reference('staffUniqueId', uniqueId),
      educationOrganizationReference: reference('educationOrganizationId', edorgId),
      staffClassificationDescriptor: descriptor,
      beginDate: date,
      endDate: date,
      positionTitle: text(100),
      orderOfAssignment: { type: 'integer', minimum: 1 },
    },
    ['staffReference', 'educationOrganizationReference', 'staffClassificationDescriptor', 'beginDate'],
  ),
  identity: ['staffReference', 'educationOrganizationReference', 'staffClassificationDescriptor', 'beginDate'],
  key: ['staffReference.staffUniqueId', 'educationOrganizationReference.educationOrganizationId', 'staffClassificationDescriptor', 'beginDate'],
  columns: { staff_unique_id: 'staffReference.staffUniqueId', edorg_id: 'educationOrganizationReference.educationOrganizationId' },
  references: [
    { member: 'staffReference', field: 'staffUniqueId', target: { resource: 'staffs' }, column: 'staff_unique_id' },
    {
      member: 'educationOrganizationReference',
      field: 'educationOrganizationId',
      target: { edorgTypes: ['sea', 'esc', 'lea', 'school'] },
      column: 'edorg_id',
    },
  ],
  reach: 'edorg',
  subjectLink: { subjectType: 'staff', subjectPath: 'staffReference.staffUniqueId', edorgPath: 'educationOrganizationReference.educationOrganizationId' },
};
