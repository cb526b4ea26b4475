import type { ResourceDeclaration } from '../resource.js';
import { date, descriptor, edorgId, reference, resourceSchema, uniqueId } from './schema-parts.js';

export const studentSchoolAssociations: ResourceDeclaration = {
  name: 'studentSchoolAssociations',
  edfiName: 'StudentSchoolAssociation',
  mediaName: 'studentSchoolAssociation',
  schema: resourceSchema(
    'StudentSchoolAssociation',
    {
      studentReference: reference('studentUniqueId', uniqueId),
      schoolReference: reference('schoolId', edorgId),
      entryDate: date,
      // Optional here (Ed-Fi requires it) because the SIS sync contract makes it optional too.
      entryGradeLevelDescriptor: descriptor,
      entryTypeDescriptor: descriptor,
      exitWithdrawDate: date,
      exitWithdrawTypeDescriptor: descriptor,
      primarySchool: { type: 'boolean' },
      repeatGradeIndicator: { type: 'boolean' },
    },
    ['studentReference', 'schoolReference', 'entryDate'],
  ),
  identity: ['studentReference', 'schoolReference', 'entryDate'],
  key: ['studentReference.studentUniqueId', 'schoolReference.schoolId', 'entryDate'],
  columns: { student_unique_id: 'studentReference.studentUniqueId', edorg_id: 'schoolReference.schoolId' },
  references: [
    { member: 'studentReference', field: 'studentUniqueId', target: { resource: 'students' }, column: 'student_unique_id' },
    { member: 'schoolReference', field: 'schoolId', target: { edorgTypes: ['school'] }, column: 'edorg_id' },
  ],
  reach: 'school',
  subjectLink: { subjectType: 'student', subjectPath: 'studentReference.studentUniqueId', edorgPath: 'schoolReference.schoolId' },
};
