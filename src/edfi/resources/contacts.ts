import type { ResourceDeclaration } from '../resource.js';
import { collection, descriptor, electronicMails, personName, resourceSchema, text, uniqueId } from './schema-parts.js';

export const contacts: ResourceDeclaration = {
  name: 'contacts',
  edfiName: 'Contact',
  mediaName: 'contact',
  schema: resourceSchema(
    'Contact',
    {
      contactUniqueId: uniqueId,
      ...personName,
      sexDescriptor: descriptor,
      electronicMails,
      telephones: collection({
        type: 'object',
        properties: { telephoneNumber: text(24), telephoneNumberTypeDescriptor: descriptor, orderOfPriority: { type: 'integer', minimum: 1 } },
        required: ['telephoneNumber', 'telephoneNumberTypeDescriptor'],
      }),
    },
    ['contactUniqueId', 'firstName', 'lastSurname'],
  ),
  identity: ['contactUniqueId'],
  key: ['contactUniqueId'],
  columns: { contact_unique_id: 'contactUniqueId' },
  references: [],
  orderColumn: 'contact_unique_id',
  reach: 'contact',
  denialHint: "Hint: You may need to create a corresponding 'StudentContactAssociation' item.",
};
