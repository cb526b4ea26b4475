import type { Db } from '../src/db/knex.js';
import { documentEtag, naturalKeyHash, newDocumentId } from '../src/edfi/documents.js';

/** 30 students enrolled at the school, 20 school days of attendance each. */
export async function seedAttendance(db: Db, school: number): Promise<void> {
  const categories = ['In Attendance', 'In Attendance', 'In Attendance', 'Tardy', 'Excused Absence', 'Unexcused Absence'];
  const documents: Record<string, unknown>[] = [];
  const events: Record<string, unknown>[] = [];
  for (let s = 0; s < 30; s++) {
    const student = `B${String(s).padStart(5, '0')}`;
    for (let d = 1; d <= 20; d++) {
      const eventDate = `2025-09-${String(d).padStart(2, '0')}`;
      const category = `uri://ed-fi.org/AttendanceEventCategoryDescriptor#${categories[(s + d) % categories.length]}`;
      const body = { studentReference: { studentUniqueId: student }, schoolReference: { schoolId: school }, eventDate, attendanceEventCategoryDescriptor: category };
      const id = newDocumentId();
      documents.push({ id, resource: 'studentSchoolAttendanceEvents', key_hash: naturalKeyHash([student, school, eventDate, category]), body: JSON.stringify(body), etag: documentEtag(body), last_modified: Date.now(), edorg_id: school, student_unique_id: student });
      events.push({ document_id: id, school_id: school, student_unique_id: student, event_date: eventDate, category });
    }
  }
  for (let i = 0; i < documents.length; i += 100) {
    await db('edfi_documents').insert(documents.slice(i, i + 100));
    await db('attendance_events').insert(events.slice(i, i + 100));
  }
}
