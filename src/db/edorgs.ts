import { ApiError } from '../errors.js';
import type { Db } from './knex.js';
import { edorgTypes, type EdorgRow, type EdorgType } from './tables.js';

/**
 * Which types may be a parent, as the Data Standard's references give them: a school hangs from its LEA, if any; an
 * LEA from a parent LEA, an ESC or an SEA; a community provider from its community organisation; an organisation
 * department from any ed-org (its ParentEducationOrganization is the abstract EducationOrganization). Every parent
 * reference is optional in the Data Standard, so any kind may stand alone; post-secondary institutions and networks
 * always do.
 */
const allowedParents: Record<EdorgType, readonly EdorgType[]> = {
  sea: [],
  esc: ['sea'],
  lea: ['lea', 'esc', 'sea'],
  school: ['lea'],
  postsecondary: [],
  network: [],
  community_org: [],
  community_provider: ['community_org'],
  department: edorgTypes,
};

export const edfiTypeNames: Record<EdorgType, string> = {
  sea: 'StateEducationAgency',
  esc: 'EducationServiceCenter',
  lea: 'LocalEducationAgency',
  school: 'School',
  postsecondary: 'PostSecondaryInstitution',
  network: 'EducationOrganizationNetwork',
  community_org: 'CommunityOrganization',
  community_provider: 'CommunityProvider',
  department: 'OrganizationDepartment',
};

/** A type as edgate names it (`department`) or as Ed-Fi does (`OrganizationDepartment`), in any case. */
export function edorgTypeOf(name: string): EdorgType | undefined {
  const wanted = name.trim().toLowerCase();
  return edorgTypes.find((type) => type === wanted || edfiTypeNames[type].toLowerCase() === wanted);
}

export interface EdorgInput {
  id: number;
  type: EdorgType;
  name: string;
  parentId?: number | null;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export function validateEdorgInput(input: { id?: unknown; type?: unknown; name?: unknown; parentId?: unknown }): EdorgInput {
  const id = Number(input.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ApiError('invalid_field', `id must be a positive integer, got ${JSON.stringify(input.id)}`);
  const type = edorgTypeOf(String(input.type ?? ''));
  if (!type) throw new ApiError('invalid_field', `type must be one of ${edorgTypes.join('|')} (or its Ed-Fi name), got ${JSON.stringify(input.type)}`);
  const name = String(input.name ?? '').trim();
  if (!name || name.length > 255) throw new ApiError('invalid_field', `name must be 1–255 characters (ed-org ${id})`);
  let parentId: number | null = null;
  if (input.parentId !== undefined && input.parentId !== null && input.parentId !== '') {
    parentId = Number(input.parentId);
    if (!Number.isSafeInteger(parentId) || parentId <= 0) throw new ApiError('invalid_field', `parent must be a positive integer (ed-org ${id})`);
  }
  return { id, type, name, parentId };
}

async function checkParent(db: Db, input: EdorgInput): Promise<void> {
  if (input.parentId === null || input.parentId === undefined) return;
  if (input.parentId === input.id) throw new ApiError('invalid_parent', `ed-org ${input.id} cannot be its own parent`);
  const parent = await db<EdorgRow>('education_organizations').where({ id: input.parentId }).first('type');
  if (!parent) throw new ApiError('unknown_parent', `parent ${input.parentId} of ed-org ${input.id} does not exist`);
  if (!allowedParents[input.type].includes(parent.type)) {
    throw new ApiError('invalid_parent', `a ${input.type} cannot have a ${parent.type} (${input.parentId}) as parent; allowed: ${allowedParents[input.type].join(', ') || 'none'}`);
  }
}

/** Links a new ed-org under its parent's ancestors: one row per ancestor, plus itself at depth 0. */
async function insertClosure(db: Db, id: number, parentId: number | null): Promise<void> {
  await db('edorg_closure').insert({ ancestor_id: id, descendant_id: id, depth: 0 });
  if (parentId === null) return;
  await db.raw(
    `insert into edorg_closure (ancestor_id, descendant_id, depth)
     select ancestor_id, ?, depth + 1 from edorg_closure where descendant_id = ?`,
    [id, parentId],
  );
}

/** A re-parented ed-org moves with its whole subtree: drop the old outside links, add the new ones. */
async function moveSubtree(db: Db, id: number, parentId: number | null): Promise<void> {
  const subtree = db('edorg_closure').select('descendant_id').where({ ancestor_id: id });
  const outside = db('edorg_closure').select('ancestor_id').where({ descendant_id: id }).whereNot({ ancestor_id: id });
  // MySQL cannot delete from a table it also selects from, so materialise the id lists first.
  const [subtreeIds, outsideIds] = await Promise.all([subtree, outside]).then(([s, o]) => [
    s.map((r: { descendant_id: number }) => r.descendant_id),
    o.map((r: { ancestor_id: number }) => r.ancestor_id),
  ]);
  if (outsideIds.length) await db('edorg_closure').whereIn('descendant_id', subtreeIds).whereIn('ancestor_id', outsideIds).del();
  if (parentId === null) return;
  await db.raw(
    `insert into edorg_closure (ancestor_id, descendant_id, depth)
     select a.ancestor_id, s.descendant_id, a.depth + s.depth + 1
     from edorg_closure a cross join edorg_closure s
     where a.descendant_id = ? and s.ancestor_id = ?`,
    [parentId, id],
  );
}

async function isBeneath(db: Db, candidate: number, ancestor: number): Promise<boolean> {
  return Boolean(await db('edorg_closure').where({ ancestor_id: ancestor, descendant_id: candidate }).first('depth'));
}

/** Adds an ed-org; with `upsert`, an existing one is updated in place (idempotent import). */
export async function putEdorg(db: Db, raw: EdorgInput, { upsert }: { upsert: boolean }): Promise<UpsertOutcome> {
  const input = validateEdorgInput(raw);
  return db.transaction(async (trx) => {
    const existing = await trx<EdorgRow>('education_organizations').where({ id: input.id }).first();
    if (existing && !upsert) throw new ApiError('duplicate_id', `ed-org ${input.id} already exists (${existing.type} "${existing.name}")`);
    await checkParent(trx, input);
    const now = Date.now();
    const parentId = input.parentId ?? null;
    if (!existing) {
      await trx('education_organizations').insert({ id: input.id, type: input.type, name: input.name, parent_id: parentId, created_at: now, updated_at: now });
      await insertClosure(trx, input.id, parentId);
      return 'created';
    }
    const sameParent = Number(existing.parent_id ?? 0) === Number(parentId ?? 0);
    if (existing.type === input.type && existing.name === input.name && sameParent) return 'unchanged';
    if (existing.type !== input.type) throw new ApiError('type_change', `ed-org ${input.id} is a ${existing.type}; its type cannot change to ${input.type}`);
    if (!sameParent && parentId !== null && (await isBeneath(trx, parentId, input.id))) {
      throw new ApiError('invalid_parent', `ed-org ${parentId} is beneath ${input.id}; that would make a cycle`);
    }
    await trx('education_organizations').where({ id: input.id }).update({ name: input.name, parent_id: parentId, updated_at: now });
    if (!sameParent) await moveSubtree(trx, input.id, parentId);
    return 'updated';
  });
}

export async function listEdorgs(db: Db): Promise<EdorgRow[]> {
  return db<EdorgRow>('education_organizations').select('id', 'type', 'name', 'parent_id', 'created_at', 'updated_at').orderBy('id');
}

export async function missingEdorgs(db: Db, ids: number[]): Promise<number[]> {
  if (!ids.length) return [];
  const found = new Set((await db('education_organizations').whereIn('id', ids).select('id')).map((r: { id: number }) => Number(r.id)));
  return ids.filter((id) => !found.has(id));
}

/** What a client reaches: every ed-org beneath its assigned ones (any type), and the schools among them. */
export interface ClientReach {
  /** School ids as strings, ascending: the token's `schools` claim. */
  schools: string[];
  edorgs: number[];
}

/** A client's reach in one indexed query over the closure table. */
export async function reachOf(db: Db, clientId: string): Promise<ClientReach> {
  const rows = (await db('client_edorgs as ce')
    .join('edorg_closure as c', 'c.ancestor_id', 'ce.edorg_id')
    .join('education_organizations as e', 'e.id', 'c.descendant_id')
    .where('ce.client_id', clientId)
    .distinct('e.id', 'e.type')
    .orderBy('e.id')) as Array<{ id: number | string; type: EdorgType }>;
  return {
    schools: rows.filter((r) => r.type === 'school').map((r) => String(r.id)),
    edorgs: rows.map((r) => Number(r.id)),
  };
}

/** School ids (as strings) at or beneath one ed-org: one indexed lookup in the closure table. */
export async function schoolsBeneath(db: Db, edorgId: number): Promise<string[]> {
  const rows = (await db('edorg_closure as c')
    .join('education_organizations as e', 'e.id', 'c.descendant_id')
    .where('c.ancestor_id', edorgId)
    .andWhere('e.type', 'school')
    .select('e.id')) as Array<{ id: number | string }>;
  return rows.map((r) => String(r.id));
}

export interface EdorgWithAncestors extends EdorgRow {
  ancestors: Array<{ id: number; type: EdorgType }>;
}

/** Ed-orgs with their ancestor chain (nearest first); token_info shows each ancestor's id. */
export async function withAncestors(db: Db, ids: number[]): Promise<EdorgWithAncestors[]> {
  if (!ids.length) return [];
  const [orgs, links] = await Promise.all([
    db<EdorgRow>('education_organizations').whereIn('id', ids).orderBy('id').select('id', 'type', 'name', 'parent_id', 'created_at', 'updated_at'),
    db('edorg_closure as c')
      .join('education_organizations as a', 'a.id', 'c.ancestor_id')
      .whereIn('c.descendant_id', ids)
      .andWhere('c.depth', '>', 0)
      .orderBy('c.depth')
      .select('c.descendant_id', 'a.id', 'a.type'),
  ]);
  return orgs.map((org) => ({
    ...org,
    id: Number(org.id),
    ancestors: links
      .filter((l: { descendant_id: number }) => Number(l.descendant_id) === Number(org.id))
      .map((l: { id: number; type: EdorgType }) => ({ id: Number(l.id), type: l.type })),
  }));
}
