import type { ResourceDeclaration } from '../resource.js';
import { date, descriptor, electronicMails, personName, resourceSchema, uniqueId } from './schema-parts.js';

export const staffs: ResourceDeclaration = {
  name: 'staffs',
  edfiName: 'Staff',
  mediaName: 'staff',
  schema: resourceSchema(
    'Staff',
    {
      staffUniqueId: uniqueId,
      ...personName,
      birthDate: date,
      sexDescriptor: descriptor,
      hispanicLatinoEthnicity: { type: 'boolean' },
      highestCompletedLevelOfEducationDescriptor: descriptor,
      yearsOfPriorProfessionalExperience: { type: 'number', minimum: 0, maximum: 99 },
      electronicMails,
    },
    ['staffUniqueId', 'firstName', 'lastSurname'],
  ),
  identity: ['staffUniqueId'],
  key: ['staffUniqueId'],
  columns: { staff_unique_id: 'staffUniqueId' },
  references: [],
  orderColumn: 'staff_unique_id',
  reach: 'staff',
  denialHint: "Hint: You may need to create a corresponding 'StaffEducationOrganizationAssignmentAssociation' item.",
};
