import type { ResourceDeclaration } from '../resource.js';
import { descriptor, reference, resourceSchema, uniqueId } from './schema-parts.js';

export const studentContactAssociations: ResourceDeclaration = {
  name: 'studentContactAssociations',
  edfiName: 'StudentContactAssociation',
  mediaName: 'studentContactAssociation',
  schema: resourceSchema(
    'StudentContactAssociation',
    {
      studentReference: reference('studentUniqueId', uniqueId),
      contactReference: reference('contactUniqueId', uniqueId),
      relationDescriptor: descriptor,
      primaryContactStatus: { type: 'boolean' },
      livesWith: { type: 'boolean' },
      emergencyContactStatus: { type: 'boolean' },
      legalGuardian: { type: 'boolean' },
      contactPriority: { type: 'integer', minimum: 1 },
    },
    ['studentReference', 'contactReference'],
  ),
  identity: ['studentReference', 'contactReference'],
  key: ['studentReference.studentUniqueId', 'contactReference.contactUniqueId'],
  columns: { student_unique_id: 'studentReference.studentUniqueId', contact_unique_id: 'contactReference.contactUniqueId' },
  references: [
    { member: 'studentReference', field: 'studentUniqueId', target: { resource: 'students' }, column: 'student_unique_id' },
    { member: 'contactReference', field: 'contactUniqueId', target: { resource: 'contacts' }, column: 'contact_unique_id' },
  ],
  reach: 'student',
};
