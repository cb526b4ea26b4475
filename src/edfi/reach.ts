import type { Knex } from 'knex';

import type { ReachKind } from './resource-declaration.js';

/**
 * What a client can reach, measured for one request:
 * - `schools`: X-Claim-Schools as the gateway forwarded it (school ids at token issue). Students,
 *   their associations and attendance are school-scoped and follow the token.
 * - `edorgs`: every ed-org beneath the client's assigned ed-orgs (closure table), for what may hang
 *   from an LEA or higher (staff assignments, LEAs and schools themselves).
 * - `assigned`: the client's assigned ed-orgs themselves, existing or assigned ahead: the only top-level ed-orgs (no
 *   parent) it may create.
 */
export interface Reach {
  schools: number[];
  edorgs: number[];
  assigned: number[];
}

/** Subject ids (studentUniqueId / staffUniqueId) associated with any of the given ed-orgs. */
export function subjectsInReach(db: Knex, subjectType: 'student' | 'staff', edorgs: number[]): Knex.QueryBuilder {
  return db('edfi_subject_edorgs as se').select('se.subject_id').where('se.subject_type', subjectType).whereIn('se.edorg_id', edorgs);
}

/**
 * Which associations count: those that exist, or also those deleted (the ODS/API's "including deletes" views, which
 * it uses to authorise deleting a person and to report deletes).
 */
export type ReachHistory = 'current' | 'includingDeletes';

/**
 * Which way ed-org reach runs. `down`: the client's ed-orgs and everything beneath them (the `relationships`
 * strategy). `downAndUp`: also every ed-org above the client's assigned ones (`relationshipsInverted`, the ODS/API's
 * RelationshipsWithEdOrgsAndPeople ORed with …Inverted), so a school reads the courses its district owns, and still not
 * a sibling school's. People are reached the same way either way: only ed-org ids are inverted.
 */
export type ReachDirection = 'down' | 'downAndUp';

/** Ed-org ids at or above any of `edorgs`, from the closure table: a subquery, so a list stays one query. */
export function edorgsAbove(db: Knex, edorgs: number[]): Knex.QueryBuilder {
  // An empty list renders as a false condition (knex), so a client with no assignment reaches nothing up the tree.
  return db('edorg_closure as up').select('up.ancestor_id').whereIn('up.descendant_id', edorgs);
}

/**
 * An ed-org id column in reach: among `ids` (the kind's reach down the tree) or, going both ways, at or above one of
 * the client's assigned ed-orgs. Compared as integer ids, so no collation is involved.
 */
export function whereEdorgInReach(db: Knex, query: Knex.QueryBuilder, column: string, ids: number[], reach: Reach, direction: ReachDirection): Knex.QueryBuilder {
  if (direction === 'down') return query.whereIn(column, ids);
  return query.where((either) => either.whereIn(column, ids).orWhereIn(column, edorgsAbove(db, reach.assigned)));
}

/**
 * Restricts a query over edfi_documents (aliased `d`) to what is in reach: one indexed predicate
 * per kind, so a collection GET is a single query and an item check is the same query by id.
 */
export function whereInReach(
  db: Knex,
  query: Knex.QueryBuilder,
  kind: ReachKind,
  reach: Reach,
  history: ReachHistory = 'current',
  direction: ReachDirection = 'down',
): Knex.QueryBuilder {
  const subjects = history === 'current' ? subjectsInReach : subjectsEverInReach;
  switch (kind) {
    case 'none':
      return query;
    case 'school':
      return whereEdorgInReach(db, query, 'd.edorg_id', reach.schools, reach, direction);
    case 'edorg':
    case 'edorgSelf':
      return whereEdorgInReach(db, query, 'd.edorg_id', reach.edorgs, reach, direction);
    case 'student':
      return query.whereIn('d.student_unique_id', subjects(db, 'student', reach.schools));
    case 'staff':
      return query.whereIn('d.staff_unique_id', subjects(db, 'staff', reach.edorgs));
    case 'contact':
      return query.whereIn('d.contact_unique_id', contactsInReach(db, reach, history));
  }
}

/**
 * Subjects reachable through an association that exists, or existed until it was deleted: what the ODS/API's
 * "including deletes" authorisation views give, so a student deleted after its enrolment is still reported, to the
 * schools it was enrolled at and to no one else; and a student whose enrolment was deleted may still be deleted by
 * its school, as on the ODS/API.
 */
export function subjectsEverInReach(db: Knex, subjectType: 'student' | 'staff', edorgs: number[]): Knex.QueryBuilder {
  const deleted = db('edfi_tracked_changes as ts').select('ts.subject_id').where({ 'ts.subject_type': subjectType, 'ts.kind': 'delete' }).whereIn('ts.subject_edorg_id', edorgs);
  return subjectsInReach(db, subjectType, edorgs).union(deleted);
}

/**
 * Contacts reachable through a StudentContactAssociation to a student in reach; including deletes, also through
 * associations deleted since, and through students reached by deleted enrolments.
 */
function contactsInReach(db: Knex, reach: Reach, history: ReachHistory): Knex.QueryBuilder {
  const students = () => (history === 'current' ? subjectsInReach : subjectsEverInReach)(db, 'student', reach.schools);
  const live = db('edfi_documents as sca').select('sca.contact_unique_id').where('sca.resource', 'studentContactAssociations').whereIn('sca.student_unique_id', students());
  if (history === 'current') return live;
  const deleted = db('edfi_tracked_changes as tsca')
    .select('tsca.contact_unique_id')
    .where({ 'tsca.resource': 'studentContactAssociations', 'tsca.kind': 'delete' })
    .whereIn('tsca.student_unique_id', students());
  return live.union(deleted);
}

export function contactsEverInReach(db: Knex, reach: Reach): Knex.QueryBuilder {
  return contactsInReach(db, reach, 'includingDeletes');
}

/** Securable values of a document not yet stored (a create), checked against the same rules. */
export interface Securables {
  edorg_id?: number | null;
  student_unique_id?: string | null;
  staff_unique_id?: string | null;
  contact_unique_id?: string | null;
  namespace?: string | null;
  /** edorgSelf: the parent the ed-org is to hang from. */
  parent_edorg_id?: number | null;
}

async function subjectReachable(db: Knex, subjectType: 'student' | 'staff', subjectId: string | null | undefined, edorgs: number[]): Promise<boolean> {
  if (!subjectId) return false;
  return Boolean(await subjectsInReach(db, subjectType, edorgs).andWhere('se.subject_id', subjectId).first());
}

/**
 * Where a stored ed-org hangs now (its parent in the tree) is in reach, or it hangs from nothing. Updating an ed-org
 * needs this beside the ed-org itself: a client assigned a school alone may not detach it from its LEA and so take it
 * out of the district's reach. (A delete needs no such check: an ed-org assigned to a client cannot be deleted, so
 * what a client may delete hangs beneath its assignment.)
 */
export async function parentInReach(db: Knex, edorgId: number | null | undefined, reach: Reach): Promise<boolean> {
  if (edorgId == null) return false;
  const row = (await db('education_organizations').where({ id: edorgId }).first('parent_id')) as { parent_id: number | string | null } | undefined;
  if (!row) return false;
  return row.parent_id === null || reach.edorgs.includes(Number(row.parent_id));
}

export async function valuesInReach(db: Knex, kind: ReachKind, values: Securables, reach: Reach): Promise<boolean> {
  switch (kind) {
    case 'none':
      return true;
    case 'school':
      return values.edorg_id != null && reach.schools.includes(Number(values.edorg_id));
    case 'edorg':
      return values.edorg_id != null && reach.edorgs.includes(Number(values.edorg_id));
    case 'edorgSelf': {
      // A new or moved ed-org must hang from something in reach. One with no parent must be in reach itself, or be
      // assigned to the client ahead: the assignment is then the only link that gives reach over it.
      if (values.parent_edorg_id != null) return reach.edorgs.includes(Number(values.parent_edorg_id));
      if (values.edorg_id == null) return false;
      return reach.edorgs.includes(Number(values.edorg_id)) || reach.assigned.includes(Number(values.edorg_id));
    }
    case 'student':
      return subjectReachable(db, 'student', values.student_unique_id, reach.schools);
    case 'staff':
      return subjectReachable(db, 'staff', values.staff_unique_id, reach.edorgs);
    case 'contact':
      return Boolean(
        values.contact_unique_id &&
          (await db('edfi_documents as sca')
            .where({ 'sca.resource': 'studentContactAssociations', 'sca.contact_unique_id': values.contact_unique_id })
            .whereIn('sca.student_unique_id', subjectsInReach(db, 'student', reach.schools))
            .first('sca.id')),
      );
  }
}
