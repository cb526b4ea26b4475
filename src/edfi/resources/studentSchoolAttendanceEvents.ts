import type { ResourceDeclaration } from '../resource.js';
import { date, descriptor, edorgId, reference, resourceSchema, text, uniqueId } from './schema-parts.js';

const time = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$' };

export const studentSchoolAttendanceEvents: ResourceDeclaration = {
  name: 'studentSchoolAttendanceEvents',
  edfiName: 'StudentSchoolAttendanceEvent',
  mediaName: 'studentSchoolAttendanceEvent',
  schema: resourceSchema(
    'StudentSchoolAttendanceEvent',
    {
      studentReference: reference('studentUniqueId', uniqueId),
      schoolReference: reference('schoolId', edorgId),
      eventDate: date,
      attendanceEventCategoryDescriptor: descriptor,
      attendanceEventReason: text(255),
      educationalEnvironmentDescriptor: descriptor,
      arrivalTime: time,
      departureTime: time,
      eventDuration: { type: 'number', minimum: 0, maximum: 1 },
    },
    ['studentReference', 'schoolReference', 'eventDate', 'attendanceEventCategoryDescriptor'],
  ),
  identity: ['studentReference', 'schoolReference', 'eventDate', 'attendanceEventCategoryDescriptor'],
  key: ['studentReference.studentUniqueId', 'schoolReference.schoolId', 'eventDate', 'attendanceEventCategoryDescriptor'],
  columns: { student_unique_id: 'studentReference.studentUniqueId', edorg_id: 'schoolReference.schoolId' },
  references: [
    { member: 'studentReference', field: 'studentUniqueId', target: { resource: 'students' }, column: 'student_unique_id' },
    { member: 'schoolReference', field: 'schoolId', target: { edorgTypes: ['school'] }, column: 'edorg_id' },
  ],
  reach: 'school',
  attendanceProjection: true,
};
