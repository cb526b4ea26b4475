import type { ResourceDeclaration } from '../resource.js';
import { date, descriptor, personName, resourceSchema, text, uniqueId } from './schema-parts.js';

export const students: ResourceDeclaration = {
  name: 'students',
  edfiName: 'Student',
  mediaName: 'student',
  schema: resourceSchema(
    'Student',
    {
      studentUniqueId: uniqueId,
      ...personName,
      birthDate: date,
      birthCity: text(30),
      birthCountryDescriptor: descriptor,
      birthSexDescriptor: descriptor,
      multipleBirthStatus: { type: 'boolean' },
    },
    ['studentUniqueId', 'firstName', 'lastSurname', 'birthDate'],
  ),
  identity: ['studentUniqueId'],
  key: ['studentUniqueId'],
  columns: { student_unique_id: 'studentUniqueId' },
  references: [],
  orderColumn: 'student_unique_id',
  reach: 'student',
  denialHint: "Hint: You may need to create a corresponding 'StudentSchoolAssociation' item.",
};
