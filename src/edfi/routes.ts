import type Router from '@koa/router';
import type { Context } from 'koa';

import { loadClaimSets, type Action, type ClaimSets } from '../config/claim-sets.js';
import { enforce, notFound, ApiError, type NotFoundVariant } from '../errors.js';
import { approvedSchools } from '../gateway/index.js';
import { bodyRequired, readJsonBody, readOptionalJsonBody } from '../http/body.js';
import { refusal } from '../http/methods.js';
import type { ClientDirectory } from '../clients/directory.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import { Authorizer, type Caller } from './authorization.js';
import { plainJson, type ContentPolicy } from './profiles/content-policy.js';
import { unusableDescriptors } from './descriptor-values.js';
import { hasIdentity, naturalKeyOf } from './document-info.js';
import { isDocumentId } from './documents.js';
import type { EdfiModel } from './model/index.js';
import { dataRoot } from './paths.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { trackedChangeRoutes, type ChangeQueryDeps } from './change-queries.js';
import { countItems, listPage } from './collection.js';
import { encodeCursor, nextCursor } from './cursor.js';
import { filterablesOf, parsePage, type Page } from './query.js';
import { addReferenceLinks } from './links.js';
import { documentByKey, documentById, materialiseEdorgDocuments, type StoredDocument } from './store.js';
import { validationFailed, ResourceValidator } from './validation.js';
import { normaliseEtag, removeDocument, replaceDocument, upsertDocument, type WriteContext } from './writes.js';

type Body = Record<string, unknown>;


/** The representation of a stored item: id first, then the body, then Ed-Fi's metadata members. */
function representation(stored: StoredDocument): Body {
  return { id: stored.id, ...stored.body, _etag: stored.etag, _lastModifiedDate: new Date(stored.lastModified).toISOString() };
}

const quoted = (etag: string) => `"${etag}"`;

const serverMembers = ['_etag', '_lastModifiedDate', 'link'];

/** A body as written: a JSON object without the server-assigned members. */
async function readItem(ctx: Context): Promise<Body> {
  return itemOf(await readJsonBody(ctx));
}

function itemOf(raw: unknown): Body {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw validationFailed({ $: ['The request body must be a JSON object.'] });
  // Clients echo these back from a GET; they are the server's to set, so they are dropped.
  const body = { ...(raw as Body) };
  for (const member of serverMembers) delete body[member];
  return body;
}

/** The route's id, as the ODS/API words one that is no id (its ids are GUIDs; edgate's, 32 hex digits). */
function idProblems(id: string): Record<string, string[]> {
  return isDocumentId(id) ? {} : { '$.id': [`The value '${id}' is not valid.`] };
}

function requireDocumentId(ctx: Context): void {
  const problems = idProblems(String(ctx.params.id));
  if (Object.keys(problems).length) throw validationFailed(problems);
}

/**
 * A PUT's id and body, checked together before either is used, as the ODS/API reports a malformed id and a missing
 * body at once.
 */
async function replacementOf(ctx: Context): Promise<Body> {
  const problems = idProblems(String(ctx.params.id));
  const raw = await readOptionalJsonBody(ctx);
  if (raw === undefined) problems.$ = [bodyRequired];
  if (Object.keys(problems).length) throw validationFailed(problems);
  return itemOf(raw);
}

/**
 * The ODS/API serves `Use-Snapshot: true` from a read-only snapshot database; edgate has none, so it answers as an
 * ODS without a snapshot configured does rather than silently serving live data.
 */
function refuseSnapshot(ctx: Context): void {
  if (ctx.get('use-snapshot').trim().toLowerCase() !== 'true') return;
  if (ctx.method === 'GET') {
    throw new ApiError('snapshot_not_configured', 'Snapshot not found.', { errors: ['The snapshot connection for the ODS has not been configured.'] });
  }
  throw new ApiError('snapshot_read_only', 'An attempt was made to modify data in a Snapshot, but this data is read-only.');
}

/** An id in a POST body: the ODS/API's words, under the validation type with its construction detail. */
function clientAssignedId(): ApiError {
  const reason = "Resource identifiers cannot be assigned by the client. The 'id' property should not be included in the request body.";
  return new ApiError('data_validation_failed', reason, { validationErrors: { '$.id': [reason] } }, {}, undefined, 'construction');
}

/** The ODS/API's reasons for refusing a write to a whole collection, or a POST to an item. */
const misdirectedWrites = {
  POST: 'Resource items can only be updated using PUT. To "upsert" an item in the resource collection using POST, remove the "id" from the route.',
  PUT: 'Resource collections cannot be replaced. To "upsert" an item in the collection, use POST. To update a specific item, use PUT and include the "id" in the route.',
  DELETE: 'Resource collections cannot be deleted. To delete a specific item, use DELETE and include the "id" in the route.',
} as const;

/** An If-None-Match naming the item's current ETag (or `*`): the client's copy is current. */
function notModified(ctx: Context, etag: string): boolean {
  const header = ctx.get('if-none-match');
  if (!header) return false;
  const tags = header.split(',').map(normaliseEtag);
  return tags.includes('*') || tags.includes(etag);
}

/** What the resource API needs of the service. */
export interface EdfiDeps {
  db: Db;
  directory: ClientDirectory;
  config: Pick<Config, 'publicUrl'>;
}

/**
 * The Ed-Fi resource API for every resource of the model: one method a verb, each in the contract's order (snapshot,
 * resource, caller, media type, body, authorisation, write).
 */
class ResourceApi {
  private readonly validator: ResourceValidator = new ResourceValidator();
  private readonly authorizer: Authorizer;
  private readonly filterables: Map<ResourceDeclaration, ReturnType<typeof filterablesOf>>;
  /** Declarations by the name documents are stored under, for reference links. */
  private readonly declarations: Map<string, ResourceDeclaration>;

  constructor(
    private readonly model: EdfiModel,
    private readonly policy: ContentPolicy,
    claimSets: ClaimSets,
    private readonly deps: EdfiDeps,
  ) {
    this.authorizer = new Authorizer(deps.db, claimSets);
    this.filterables = new Map(model.resources.map((r) => [r, filterablesOf(r)]));
    this.declarations = new Map(model.resources.map((r) => [r.name, r]));
  }

  async list(ctx: Context): Promise<void> {
    const { resource, caller } = await this.begin(ctx);
    const read = this.readPolicy(ctx, resource, caller);
    const page = this.page(ctx.query, read.readable, resource);
    const scope = await this.authorizer.collectionScope(caller, resource);
    if ('ok' in scope) return enforce(scope);
    const { db } = this.deps;
    if (page.totalCount) ctx.set('Total-Count', String(await countItems(db, resource, scope, page)));
    const items = await listPage(db, resource, scope, page);
    // As the ODS/API: every page with items points on; the walk ends at the first empty page.
    if (page.cursor && items.length) ctx.set('Next-Page-Token', encodeCursor(nextCursor(page.cursor, items[items.length - 1].id)));
    const bodies = items.map(representation);
    await addReferenceLinks(db, resource, bodies, this.declarations);
    ctx.type = read.contentType;
    ctx.body = bodies.map((body) => read.shape(body));
  }

  async read(ctx: Context): Promise<void> {
    const { resource, caller } = await this.begin(ctx);
    requireDocumentId(ctx);
    const read = this.readPolicy(ctx, resource, caller);
    const stored = await this.storedItem(ctx, resource, 'item');
    enforce(await this.authorizer.forStored(caller, resource, 'read', stored));
    ctx.set('ETag', quoted(stored.etag));
    if (notModified(ctx, stored.etag)) {
      ctx.status = 304;
      return;
    }
    const body = representation(stored);
    await addReferenceLinks(this.deps.db, resource, [body], this.declarations);
    ctx.type = read.contentType;
    ctx.body = read.shape(body);
  }

  /** POST: creates the item, or updates the one with the same natural key (Ed-Fi's upsert). */
  async create(ctx: Context): Promise<void> {
    const { resource, caller } = await this.begin(ctx);
    enforce(this.authorizer.anyOf(caller, resource, ['create', 'update']));
    const write = this.policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client, method: ctx.method });
    const incoming = this.validator.normalise(resource, await readItem(ctx));
    if ('id' in incoming) throw clientAssignedId();
    const existing = await this.storedByKeyIfPossible(resource, incoming);
    const body = write.filter(incoming, existing?.body);
    await this.checkBody(resource, body);
    const result = await upsertDocument(this.deps.db, resource, body, this.writeContext(ctx, caller, resource));
    this.written(resource);
    ctx.status = result.outcome === 'created' ? 201 : 200;
    ctx.set('Location', `${this.deps.config.publicUrl}${dataRoot}/${resource.project}/${resource.name}/${result.id}`);
    ctx.set('ETag', quoted(result.etag));
    // An empty body, as the ODS/API answers; without one Koa would send its status text ("Created").
    ctx.body = '';
    ctx.remove('Content-Type');
  }

  async replace(ctx: Context): Promise<void> {
    const { resource, caller } = await this.begin(ctx);
    const write = this.policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client, method: ctx.method });
    const received = await replacementOf(ctx);
    const stored = await this.storedItem(ctx, resource, 'update');
    enforce(await this.authorizer.forStored(caller, resource, 'update', stored));
    const { id, ...incoming } = this.validator.normalise(resource, received);
    if (id !== undefined && id !== stored.id) throw validationFailed({ '$.id': ['The id in the body does not match the id in the URL.'] });
    const body = write.filter(incoming, stored.body);
    await this.checkBody(resource, body);
    const written = await replaceDocument(this.deps.db, resource, stored.id, body, this.writeContext(ctx, caller, resource), this.declarations);
    this.written(resource);
    ctx.status = 204;
    ctx.set('ETag', quoted(written.etag));
  }

  /** PUT or DELETE of a whole collection, POST to an item: refused as the ODS/API refuses them, after a snapshot's own refusal. */
  misdirectedWrite(ctx: Context): void {
    refuseSnapshot(ctx);
    throw new ApiError('method_not_allowed', misdirectedWrites[ctx.method as keyof typeof misdirectedWrites]);
  }

  async remove(ctx: Context): Promise<void> {
    const { resource, caller } = await this.begin(ctx);
    requireDocumentId(ctx);
    await removeDocument(this.deps.db, resource, String(ctx.params.id), this.writeContext(ctx, caller, resource), this.declarations);
    this.written(resource);
    ctx.status = 204;
  }

  /** What /deletes, /keyChanges and /partitions share with the verbs: the same start, the same authoriser. */
  changeQueries(): ChangeQueryDeps {
    return {
      db: this.deps.db,
      authorizer: this.authorizer,
      begin: (ctx) => this.begin(ctx),
      page: (query, ctx, resource, caller) => this.page(query, this.readPolicy(ctx, resource, caller).readable, resource),
    };
  }

  /** What the caller may read of a resource, and in which media type: the profile its Accept header names. */
  private readPolicy(ctx: Context, resource: ResourceDeclaration, caller: Caller) {
    return this.policy.forRead({ accept: ctx.get('accept') || undefined, resource, client: caller.client });
  }

  /** A collection query, with filters only on the members the caller's profile lets it read. */
  private page(query: Context['query'], readable: (path: string[]) => boolean, resource: ResourceDeclaration): Page {
    return parsePage(query, this.filterables.get(resource)!, readable);
  }

  /** What every verb starts with: no snapshot, a served resource, a known caller, ed-org items in place. */
  private async begin(ctx: Context): Promise<{ resource: ResourceDeclaration; caller: Caller }> {
    refuseSnapshot(ctx);
    const resource = this.model.find(String(ctx.params.project), String(ctx.params.resource));
    if (!resource) throw new ApiError('not_found', `No resource ${ctx.params.project}/${ctx.params.resource} is served here.`);
    const caller = await this.callerOf(ctx);
    if (resource.edorg) await materialiseEdorgDocuments(this.deps.db, resource);
    return { resource, caller };
  }

  private async callerOf(ctx: Context): Promise<Caller> {
    const client = await this.deps.directory.find(String(ctx.state.clientId ?? ''));
    // The gateway has authenticated the client already; no record here means fail closed.
    if (!client || client.disabled) throw new ApiError('invalid_token', 'the client behind this token is unknown or disabled');
    return { client, schools: approvedSchools(ctx).map(Number).filter(Number.isSafeInteger) };
  }

  /**
   * A body's problems, all reported at once as the ODS/API reports them: the schema's, and every descriptor value it
   * names that cannot be used (after the profile's filter, so members the profile discards are not judged).
   */
  private async checkBody(resource: ResourceDeclaration, body: Body): Promise<void> {
    const problems = this.validator.problems(resource, body);
    // A value the schema refuses already (too long to be any descriptor's) needs no second word.
    for (const [path, messages] of Object.entries(await unusableDescriptors(this.deps.db, resource, body))) problems[path] ??= messages;
    if (Object.keys(problems).length) throw validationFailed(problems);
  }

  /** The item the route's id names; `variant` words its absence by what it was wanted for. */
  private async storedItem(ctx: Context, resource: ResourceDeclaration, variant: NotFoundVariant): Promise<StoredDocument> {
    const stored = await documentById(this.deps.db, resource.name, String(ctx.params.id));
    if (!stored) throw notFound(`No ${resource.edfiName} with id ${ctx.params.id}.`, variant);
    return stored;
  }

  /** The stored item a POST would update, when the body's identity is complete enough to find it. */
  private async storedByKeyIfPossible(resource: ResourceDeclaration, body: Body): Promise<StoredDocument | undefined> {
    if (!hasIdentity(resource, body)) return undefined;
    return documentByKey(this.deps.db, resource.name, naturalKeyOf(resource, body));
  }

  private writeContext(ctx: Context, caller: Caller, resource: ResourceDeclaration): WriteContext {
    const { authorizer } = this;
    return {
      creator: { clientId: caller.client.clientId, ownershipTokenId: caller.client.creatorTokenId },
      ifMatch: ctx.get('if-match') || undefined,
      async authorize(trx, action: Action, incoming, stored) {
        if (stored) enforce(await authorizer.forStored(caller, resource, action, stored, trx));
        if (incoming) enforce(await authorizer.forIncoming(caller, resource, action, incoming.info, trx));
      },
    };
  }

  /** An ed-org written here changes reach for every client: reload them, here and in new tokens. */
  private written(resource: ResourceDeclaration): void {
    if (resource.edorg) this.deps.directory.forgetAll();
  }
}

/** The Ed-Fi resource API for every resource of the model, behind the gateway. */
export function edfiRoutes(model: EdfiModel, policy: ContentPolicy = plainJson, claimSets: ClaimSets = loadClaimSets()) {
  return (router: Router, deps: EdfiDeps): void => {
    const api = new ResourceApi(model, policy, claimSets, deps);
    const collection = `${dataRoot}/:project/:resource`;
    const item = `${collection}/:id`;
    trackedChangeRoutes(router, collection, api.changeQueries());
    router.get(collection, (ctx) => api.list(ctx));
    router.get(item, (ctx) => api.read(ctx));
    router.post(collection, (ctx) => api.create(ctx));
    router.put(item, (ctx) => api.replace(ctx));
    router.delete(item, (ctx) => api.remove(ctx));
    router.put(refusal('collection PUT'), collection, (ctx) => api.misdirectedWrite(ctx));
    router.delete(refusal('collection DELETE'), collection, (ctx) => api.misdirectedWrite(ctx));
    router.post(refusal('item POST'), item, (ctx) => api.misdirectedWrite(ctx));
  };
}
