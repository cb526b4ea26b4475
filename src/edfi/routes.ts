import type Router from '@koa/router';
import type { Context } from 'koa';

import { loadClaimSets, type Action, type ClaimSets } from '../config/claim-sets.js';
import { enforce, ApiError } from '../errors.js';
import { approvedSchools } from '../gateway/index.js';
import { readJsonBody } from '../http/body.js';
import type { ClientDirectory } from '../clients/directory.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import { Authorizer, type Caller } from './authorization.js';
import { plainJson, type ContentPolicy } from './profiles/content-policy.js';
import { hasIdentity, naturalKeyOf } from './document-info.js';
import type { EdfiModel } from './model/index.js';
import { dataRoot } from './paths.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { countItems, listPage } from './collection.js';
import { filterablesOf, parsePage } from './query.js';
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
  const raw = await readJsonBody(ctx);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw validationFailed({ $: ['The request body must be a JSON object.'] });
  // Clients echo these back from a GET; they are the server's to set, so they are dropped.
  const body = { ...(raw as Body) };
  for (const member of serverMembers) delete body[member];
  return body;
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

/** The Ed-Fi resource API for every resource of the model, behind the gateway. */
export function edfiRoutes(model: EdfiModel, policy: ContentPolicy = plainJson, claimSets: ClaimSets = loadClaimSets()) {
  return (router: Router, { db, directory, config }: EdfiDeps): void => {
    const validator: ResourceValidator = new ResourceValidator();
    const authorizer = new Authorizer(db, claimSets);
    const filterables = new Map(model.resources.map((r) => [r, filterablesOf(r)]));
    // An ed-org written here changes reach for every client: reload them, here and in new tokens.
    const edorgTreeChanged = () => directory.forgetAll();

    function resourceOf(ctx: Context): ResourceDeclaration {
      const resource = model.find(String(ctx.params.project), String(ctx.params.resource));
      if (!resource) throw new ApiError('not_found', `No resource ${ctx.params.project}/${ctx.params.resource} is served here.`);
      return resource;
    }

    async function callerOf(ctx: Context): Promise<Caller> {
      const client = await directory.find(String(ctx.state.clientId ?? ''));
      // The gateway has authenticated the client already; no record here means fail closed.
      if (!client || client.disabled) throw new ApiError('invalid_token', 'the client behind this token is unknown or disabled');
      return { client, schools: approvedSchools(ctx).map(Number).filter(Number.isSafeInteger) };
    }

    function writeContext(ctx: Context, caller: Caller, resource: ResourceDeclaration): WriteContext {
      return {
        clientId: caller.client.clientId,
        ifMatch: ctx.get('if-match') || undefined,
        async authorize(trx, action: Action, incoming, stored) {
          if (stored) enforce(await authorizer.forStored(caller, resource, action, stored, trx));
          if (incoming) enforce(await authorizer.forIncoming(caller, resource, action, incoming.info, trx));
        },
      };
    }

    async function readable(ctx: Context, resource: ResourceDeclaration, caller: Caller): Promise<StoredDocument> {
      const stored = await documentById(db, resource.name, String(ctx.params.id));
      if (!stored) throw new ApiError('not_found', `No ${resource.edfiName} with id ${ctx.params.id}.`);
      enforce(await authorizer.forStored(caller, resource, 'read', stored));
      return stored;
    }

    const prepare = async (resource: ResourceDeclaration) => {
      if (resource.edorg) await materialiseEdorgDocuments(db, resource);
    };

    /** The stored item a POST would update, when the body's identity is complete enough to find it. */
    async function storedByKeyIfPossible(resource: ResourceDeclaration, body: Body): Promise<StoredDocument | undefined> {
      if (!hasIdentity(resource, body)) return undefined;
      return documentByKey(db, resource.name, naturalKeyOf(resource, body));
    }

    const collection = `${dataRoot}/:project/:resource`;
    const item = `${collection}/:id`;

    router.get(collection, async (ctx) => {
      refuseSnapshot(ctx);
      const resource = resourceOf(ctx);
      const caller = await callerOf(ctx);
      const read = policy.forRead({ accept: ctx.get('accept') || undefined, resource, client: caller.client });
      const page = parsePage(ctx.query, filterables.get(resource)!, read.readable);
      await prepare(resource);
      const scope = await authorizer.collectionScope(caller, resource);
      if ('ok' in scope) {
        enforce(scope);
        return;
      }
      if (page.totalCount) ctx.set('Total-Count', String(await countItems(db, resource, scope, page)));
      const items = await listPage(db, resource, scope, page);
      ctx.type = read.contentType;
      ctx.body = items.map((stored) => read.shape(representation(stored)));
    });

    router.get(item, async (ctx) => {
      refuseSnapshot(ctx);
      const resource = resourceOf(ctx);
      const caller = await callerOf(ctx);
      const read = policy.forRead({ accept: ctx.get('accept') || undefined, resource, client: caller.client });
      await prepare(resource);
      const stored = await readable(ctx, resource, caller);
      ctx.set('ETag', quoted(stored.etag));
      if (notModified(ctx, stored.etag)) {
        ctx.status = 304;
        return;
      }
      ctx.type = read.contentType;
      ctx.body = read.shape(representation(stored));
    });

    router.post(collection, async (ctx) => {
      refuseSnapshot(ctx);
      const resource = resourceOf(ctx);
      const caller = await callerOf(ctx);
      enforce(authorizer.anyOf(caller, resource, ['create', 'update']));
      const write = policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client, method: ctx.method });
      const incoming = validator.normalise(resource, await readItem(ctx));
      if ('id' in incoming) throw validationFailed({ '$.id': ['Resource identifiers cannot be assigned by the client. The id member must be omitted on POST.'] });
      await prepare(resource);
      const existing = await storedByKeyIfPossible(resource, incoming);
      const body = write.filter(incoming, existing?.body);
      validator.check(resource, body);
      const result = await upsertDocument(db, resource, body, writeContext(ctx, caller, resource));
      if (resource.edorg) edorgTreeChanged();
      ctx.status = result.outcome === 'created' ? 201 : 200;
      ctx.set('Location', `${config.publicUrl}${dataRoot}/${resource.project}/${resource.name}/${result.id}`);
      ctx.set('ETag', quoted(result.etag));
      // An empty body, as the ODS/API answers; without one Koa would send its status text ("Created").
      ctx.body = '';
      ctx.remove('Content-Type');
    });

    router.put(item, async (ctx) => {
      refuseSnapshot(ctx);
      const resource = resourceOf(ctx);
      const caller = await callerOf(ctx);
      const write = policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client, method: ctx.method });
      await prepare(resource);
      const stored = await documentById(db, resource.name, String(ctx.params.id));
      if (!stored) throw new ApiError('not_found', `No ${resource.edfiName} with id ${ctx.params.id}.`);
      enforce(await authorizer.forStored(caller, resource, 'update', stored));
      const { id, ...incoming } = validator.normalise(resource, await readItem(ctx));
      if (id !== undefined && id !== stored.id) throw validationFailed({ '$.id': ['The id in the body does not match the id in the URL.'] });
      const body = write.filter(incoming, stored.body);
      validator.check(resource, body);
      const written = await replaceDocument(db, resource, stored.id, body, writeContext(ctx, caller, resource));
      if (resource.edorg) edorgTreeChanged();
      ctx.status = 204;
      ctx.set('ETag', quoted(written.etag));
    });

    router.delete(item, async (ctx) => {
      refuseSnapshot(ctx);
      const resource = resourceOf(ctx);
      const caller = await callerOf(ctx);
      await prepare(resource);
      await removeDocument(db, resource, String(ctx.params.id), writeContext(ctx, caller, resource));
      if (resource.edorg) edorgTreeChanged();
      ctx.status = 204;
    });
  };
}
