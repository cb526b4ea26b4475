import type { ClientInput } from '../src/db/clients.js';
import type { TestApp } from './helpers/app.js';

export const data = '/data/v3/ed-fi';

export interface ApiClient {
  clientId: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(resource: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  put(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  del(path: string, headers?: Record<string, string>): Promise<Response>;
  /** POST that must succeed; returns the new item's id (from Location). */
  create(resource: string, body: unknown): Promise<string>;
}

/** A client with a token, talking HTTP to the app like an Ed-Fi consumer. */
export async function apiClient(app: TestApp, input: ClientInput): Promise<ApiClient> {
  const credentials = await app.client(input);
  const token = await app.token(credentials);
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.fetch(path.startsWith('/') ? path : `${data}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const client: ApiClient = {
    clientId: credentials.clientId,
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (resource, body, headers) => call('POST', resource, body, headers),
    put: (path, body, headers) => call('PUT', path, body, headers),
    del: (path, headers) => call('DELETE', path, undefined, headers),
    async create(resource, body) {
      const res = await client.post(resource, body);
      if (res.status !== 201) throw new Error(`POST ${resource} answered ${res.status}: ${await res.text()}`);
      return res.headers.get('location')!.split('/').pop()!;
    },
  };
  return client;
}

export const student = (id: string, extra: Record<string, unknown> = {}) => ({
  studentUniqueId: id,
  firstName: 'Ada',
  lastSurname: `Student ${id}`,
  birthDate: '2010-05-04',
  ...extra,
});

export const enrolment = (studentId: string, schoolId: number, entryDate = '2025-08-20') => ({
  studentReference: { studentUniqueId: studentId },
  schoolReference: { schoolId },
  entryDate,
  entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
});

export const staffMember = (id: string) => ({ staffUniqueId: id, firstName: 'Grace', lastSurname: `Staff ${id}` });

export const assignment = (staffId: string, edorgId: number) => ({
  staffReference: { staffUniqueId: staffId },
  educationOrganizationReference: { educationOrganizationId: edorgId },
  staffClassificationDescriptor: 'uri://ed-fi.org/StaffClassificationDescriptor#Teacher',
  beginDate: '2025-08-01',
});

export const contact = (id: string) => ({ contactUniqueId: id, firstName: 'Alan', lastSurname: `Contact ${id}` });

export const contactLink = (studentId: string, contactId: string) => ({
  studentReference: { studentUniqueId: studentId },
  contactReference: { contactUniqueId: contactId },
  relationDescriptor: 'uri://ed-fi.org/RelationDescriptor#Father',
});

export const attendance = (studentId: string, schoolId: number, eventDate: string, category = 'In Attendance') => ({
  studentReference: { studentUniqueId: studentId },
  schoolReference: { schoolId },
  eventDate,
  attendanceEventCategoryDescriptor: `uri://ed-fi.org/AttendanceEventCategoryDescriptor#${category}`,
});

export const assessment = (identifier: string, namespace: string) => ({
  assessmentIdentifier: identifier,
  namespace,
  assessmentTitle: `Assessment ${identifier}`,
  academicSubjects: [{ academicSubjectDescriptor: 'uri://ed-fi.org/AcademicSubjectDescriptor#Mathematics' }],
});

/** A session's reference: its school, school year and name. */
export interface SessionKey {
  schoolId: number;
  schoolYear: number;
  sessionName: string;
}

/**
 * A course of the district (255901) offered in a Fall session at the session's school, with the descriptors they
 * name (the whole Data Standard's model): what a section needs before it can be written.
 */
export async function courseOffering(client: ApiClient, session: SessionKey, courseCode: string, localCourseCode: string): Promise<void> {
  await client.create('termDescriptors', { namespace: 'uri://ed-fi.org/TermDescriptor', codeValue: 'Fall', shortDescription: 'Fall' });
  await client.create('courseIdentificationSystemDescriptors', { namespace: 'uri://ed-fi.org/CourseIdentificationSystemDescriptor', codeValue: 'LEA course code', shortDescription: 'LEA' });
  await client.create('sessions', {
    sessionName: session.sessionName,
    schoolReference: { schoolId: session.schoolId },
    schoolYearTypeReference: { schoolYear: session.schoolYear },
    beginDate: '2025-08-20',
    endDate: '2025-12-20',
    termDescriptor: 'uri://ed-fi.org/TermDescriptor#Fall',
    totalInstructionalDays: 80,
  });
  await client.create('courses', {
    courseCode,
    courseTitle: 'Algebra I',
    numberOfParts: 1,
    identificationCodes: [{ identificationCode: courseCode, courseIdentificationSystemDescriptor: 'uri://ed-fi.org/CourseIdentificationSystemDescriptor#LEA course code' }],
    educationOrganizationReference: { educationOrganizationId: 255901 },
  });
  await client.create('courseOfferings', { localCourseCode, schoolReference: { schoolId: session.schoolId }, sessionReference: session, courseReference: { courseCode, educationOrganizationId: 255901 } });
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
