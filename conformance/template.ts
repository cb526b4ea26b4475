/**
 * Our stand-in for the ODS/API "populated template" the suites were written against: the Grand Bend items their
 * set-up requests look up (course offerings, class periods, sections, grading periods, the Bilingual program, ...),
 * with the values their later requests and assertions expect. conformance/template.json holds the hand-written
 * items; the long lists (courses and staff the paging tests count down from, attendance events the partitioning
 * tests split 200 ways) are generated here. Loaded after the demo district, through the API's own write path.
 */
import { readFileSync } from 'node:fs';

import { loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';
import { createDb } from '../src/db/knex.js';
import { ensureDescriptors } from '../src/edfi/descriptors.js';
import { loadEdfiModel } from '../src/edfi/model/index.js';
import { loadDocuments } from '../src/edfi/seed.js';

type Body = Record<string, unknown>;
type Documents = Record<string, Body[]>;

const lea = 255901;
const highSchool = 255901001;
const middleSchool = 255901044;
const descriptor = (name: string, code: string) => `uri://ed-fi.org/${name}Descriptor#${code}`;

/** 30 district courses: the paging tests page back from total - 25, so there must be more than 25. */
function courses(offered: Set<string>): Body[] {
  const subjects = ['ENG', 'ALG', 'BIO', 'MATH', 'HIST', 'ART'];
  const codes = new Set(offered);
  for (let i = 1; codes.size < 30; i++) codes.add(`${subjects[i % subjects.length]}-${String(i).padStart(2, '0')}`);
  return [...codes].map((courseCode) => ({
    courseCode,
    courseTitle: `Course ${courseCode}`,
    numberOfParts: 1,
    educationOrganizationReference: { educationOrganizationId: lea },
    identificationCodes: [{ identificationCode: courseCode, courseIdentificationSystemDescriptor: descriptor('CourseIdentificationSystem', 'LEA course code') }],
  }));
}

/** 30 staff members with the fields the composite tests filter and sort on; every other one works at a school. */
function staffs(): { staffs: Body[]; staffSchoolAssociations: Body[] } {
  const people = Array.from({ length: 30 }, (_, i) => ({
    staffUniqueId: String(207300 + i),
    firstName: `Staff${i}`,
    middleName: 'Lee',
    lastSurname: `Grandbend${String.fromCharCode(65 + (i % 26))}`,
    birthDate: `${1960 + i}-0${1 + (i % 9)}-15`,
    hispanicLatinoEthnicity: i % 3 === 0,
    yearsOfPriorProfessionalExperience: i % 20,
    highestCompletedLevelOfEducationDescriptor: descriptor('LevelOfEducation', i % 2 ? "Master's" : "Bachelor's"),
  }));
  const staffSchoolAssociations = people
    .filter((_, i) => i % 2 === 0)
    .map((p, i) => ({
      staffReference: { staffUniqueId: p.staffUniqueId },
      schoolReference: { schoolId: i % 2 ? middleSchool : highSchool },
      programAssignmentDescriptor: descriptor('ProgramAssignment', 'Regular Education'),
    }));
  return { staffs: people, staffSchoolAssociations };
}

/**
 * Section attendance on school days from September on, `total` in all: the partitioning tests ask for 200 partitions
 * of studentSectionAttendanceEvents, so there must be more than 200.
 */
function attendanceEvents(enrolments: Body[], total: number): Body[] {
  const perEnrolment = Math.ceil(total / enrolments.length);
  const days: string[] = [];
  for (let date = new Date(Date.UTC(2021, 8, 1)); days.length < perEnrolment; date.setUTCDate(date.getUTCDate() + 1)) {
    if (date.getUTCDay() % 6 !== 0) days.push(date.toISOString().slice(0, 10));
  }
  const events = enrolments.flatMap((e) =>
    days.map((eventDate, i) => ({
      studentReference: e.studentReference,
      sectionReference: e.sectionReference,
      eventDate,
      attendanceEventCategoryDescriptor: descriptor('AttendanceEventCategory', i % 7 ? 'In Attendance' : 'Tardy'),
    })),
  );
  return events.slice(0, total);
}

/** The template in dependency order: template.json's order, the generated lists in their resource's place. */
export function templateDocuments(): Documents {
  const written = JSON.parse(readFileSync(fromRoot('conformance', 'template.json'), 'utf8')) as Documents;
  const offered = new Set(written.courseOfferings.map((o) => String(o.localCourseCode)));
  const generated: Documents = {
    courses: courses(offered),
    ...staffs(),
    studentSectionAttendanceEvents: attendanceEvents(written.studentSectionAssociations, 500),
  };
  return Object.fromEntries(Object.entries(written).map(([name, bodies]) => [name, [...bodies, ...(generated[name] ?? [])]]));
}

/** The Ed-Fi descriptor values the template's items name, so each exists before the items that name it. */
function descriptorsNamed(documents: Documents): Record<string, string[]> {
  const values: Record<string, Set<string>> = {};
  for (const [, name, code] of JSON.stringify(documents).matchAll(/"uri:\/\/ed-fi\.org\/(\w+Descriptor)#([^"]+)"/g)) (values[name] ??= new Set()).add(code);
  return Object.fromEntries(Object.entries(values).map(([name, codes]) => [name, [...codes]]));
}

/** Writes the template; returns how many items were created and how many descriptor values it added. */
export async function seedTemplate(env: NodeJS.ProcessEnv): Promise<{ created: number; resources: number; descriptors: number }> {
  const config = loadConfig(env);
  const db = createDb(config.databaseUrl);
  try {
    const model = loadEdfiModel(config.edfiApiSchema);
    const documents = templateDocuments();
    const descriptors = await ensureDescriptors(db, model, { namespace: 'uri://ed-fi.org', values: descriptorsNamed(documents) });
    const counts = await loadDocuments(db, model, documents);
    return { created: Object.values(counts).reduce((n, c) => n + c.created + c.updated, 0), resources: Object.keys(counts).length, descriptors };
  } finally {
    await db.destroy();
  }
}
