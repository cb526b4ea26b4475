import type { ResourceDeclaration } from '../resource.js';
import type { ResourceMeta } from '../resource-meta.js';
import { assessments } from './assessments.js';
import { contacts } from './contacts.js';
import { localEducationAgencies } from './localEducationAgencies.js';
import { schools } from './schools.js';
import { staffEducationOrganizationAssignmentAssociations } from './staffEducationOrganizationAssignmentAssociations.js';
import { staffs } from './staffs.js';
import { studentContactAssociations } from './studentContactAssociations.js';
import { students } from './students.js';
import { studentSchoolAssociations } from './studentSchoolAssociations.js';
import { studentSchoolAttendanceEvents } from './studentSchoolAttendanceEvents.js';

/** Every resource the API serves; adding one is one new file and one line here. */
export const resources: ResourceDeclaration[] = [
  localEducationAgencies,
  schools,
  students,
  studentSchoolAssociations,
  staffs,
  staffEducationOrganizationAssignmentAssociations,
  contacts,
  studentContactAssociations,
  studentSchoolAttendanceEvents,
  assessments,
];

/** What the profiles layer validates its definitions against. */
export const resourceMetas: ResourceMeta[] = resources.map(({ name, edfiName, mediaName, schema, identity }) => ({ name, edfiName, mediaName, schema, identity }));

export function resourceNamed(name: string): ResourceDeclaration | undefined {
  return resources.find((r) => r.name === name);
}
