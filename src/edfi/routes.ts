import type Router from '@koa/router';
import type { Context } from 'koa';

import { loadClaimSets, type Action, type ClaimSets } from '../config/claim-sets.js';
import { enforce, ApiError } from '../errors.js';
import { approvedSchools } from '../gateway/index.js';
import { readJsonBody } from '../http/body.js';
import type { Services } from '../http/services.js';
import { Authorizer, type Caller } from './authorization.js';
import { plainJson, type ContentPolicy } from './content-policy.js';
import type { ResourceDeclaration } from './resource.js';
import { resources } from './resources/index.js';
import { countItems, listPage } from './collection.js';
import { filterablesOf, parsePage } from './query.js';
import { documentByKey, documentById, materialiseEdorgDocuments, naturalKeyOf, type StoredDocument } from './store.js';
import { validationFailed, ResourceValidator } from './validation.js';
import { removeDocument, replaceDocument, upsertDocument, type WriteContext } from './writes.js';

type Body = Record<string, unknown>;

export const dataPrefix = '/data/v3/ed-fi';

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

/** The Ed-Fi resource API for every declared resource, behind the gateway. */
export function edfiRoutes(policy: ContentPolicy = plainJson, claimSets: ClaimSets = loadClaimSets()) {
  return (router: Router, services: Services): void => {
    const { db, directory, config } = services;
    const validator: ResourceValidator = new ResourceValidator(resources);
    const authorizer = new Authorizer(db, claimSets);
    // An LEA or school written here changes reach for every client: reload them, here and in new tokens.
    const edorgTreeChanged = () => directory.forgetAll();

    async function callerOf(ctx: Context): Promise<Caller> {
      const client = await directory.find(String(ctx.state.clientId ?? ''));
      // The gateway has authenticated the client already; no record here means fail closed.
      if (!client || client.disabled) throw new ApiError(401, 'invalid_token', 'the client behind this token is unknown or disabled');
      return { client, schools: approvedSchools(ctx).map(Number).filter(Number.isSafeInteger) };
    }

    function writeContext(ctx: Context, caller: Caller, resource: ResourceDeclaration): WriteContext {
      return {
        clientId: caller.client.clientId,
        ifMatch: ctx.get('if-match') || undefined,
        resources,
        async authorize(trx, action: Action, incoming, stored) {
          if (stored) enforce(await authorizer.forStored(caller, resource, action, stored, trx));
          if (incoming) enforce(await authorizer.forIncoming(caller, resource, action, incoming, trx));
        },
      };
    }

    async function readable(ctx: Context, resource: ResourceDeclaration, caller: Caller): Promise<StoredDocument> {
      const stored = await documentById(db, resource.name, String(ctx.params.id));
      if (!stored) throw new ApiError(404, 'not_found', `No ${resource.edfiName} with id ${ctx.params.id}.`);
      enforce(await authorizer.forStored(caller, resource, 'read', stored));
      return stored;
    }

    for (const resource of resources) {
      const collection = `${dataPrefix}/${resource.name}`;
      const item = `${collection}/:id`;
      const filterables = filterablesOf(resource);
      const prepare = async () => {
        if (resource.edorg) await materialiseEdorgDocuments(db, resource);
      };

      router.get(collection, async (ctx) => {
        const caller = await callerOf(ctx);
        const read = policy.forRead({ accept: ctx.get('accept') || undefined, resource, client: caller.client });
        const page = parsePage(ctx.query, filterables, read.readable);
        await prepare();
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
        const caller = await callerOf(ctx);
        const read = policy.forRead({ accept: ctx.get('accept') || undefined, resource, client: caller.client });
        await prepare();
        const stored = await readable(ctx, resource, caller);
        ctx.set('ETag', quoted(stored.etag));
        ctx.type = read.contentType;
        ctx.body = read.shape(representation(stored));
      });

      router.post(collection, async (ctx) => {
        const caller = await callerOf(ctx);
        enforce(authorizer.anyOf(caller, resource, ['create', 'update']));
        const write = policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client });
        const incoming = await readItem(ctx);
        if ('id' in incoming) throw validationFailed({ '$.id': ['Resource identifiers cannot be assigned by the client. The id member must be omitted on POST.'] });
        await prepare();
        const existing = await storedByKeyIfPossible(resource, incoming);
        const body = write.filter(incoming, existing?.body);
        validator.check(resource, body);
        const result = await upsertDocument(db, resource, body, writeContext(ctx, caller, resource));
        if (resource.edorg) edorgTreeChanged();
        ctx.status = result.outcome === 'created' ? 201 : 200;
        ctx.set('Location', `${config.publicUrl}${collection}/${result.id}`);
        ctx.set('ETag', quoted(result.etag));
        // An empty body, as the ODS/API answers; without one Koa would send its status text ("Created").
        ctx.body = '';
        ctx.remove('Content-Type');
      });

      router.put(item, async (ctx) => {
        const caller = await callerOf(ctx);
        const write = policy.forWrite({ contentType: ctx.get('content-type') || undefined, resource, client: caller.client });
        await prepare();
        const stored = await documentById(db, resource.name, String(ctx.params.id));
        if (!stored) throw new ApiError(404, 'not_found', `No ${resource.edfiName} with id ${ctx.params.id}.`);
        enforce(await authorizer.forStored(caller, resource, 'update', stored));
        const { id, ...incoming } = await readItem(ctx);
        if (id !== undefined && id !== stored.id) throw validationFailed({ '$.id': ['The id in the body does not match the id in the URL.'] });
        const body = write.filter(incoming, stored.body);
        validator.check(resource, body);
        const written = await replaceDocument(db, resource, stored.id, body, writeContext(ctx, caller, resource));
        if (resource.edorg) edorgTreeChanged();
        ctx.status = 204;
        ctx.set('ETag', quoted(written.etag));
      });

      router.delete(item, async (ctx) => {
        const caller = await callerOf(ctx);
        await prepare();
        await removeDocument(db, resource, String(ctx.params.id), writeContext(ctx, caller, resource));
        if (resource.edorg) edorgTreeChanged();
        ctx.status = 204;
      });
    }

    /** The stored item a POST would update, when the body's key is complete enough to find it. */
    async function storedByKeyIfPossible(resource: ResourceDeclaration, body: Body): Promise<StoredDocument | undefined> {
      if (!validator.hasKey(resource, body)) return undefined;
      const found = await documentByKey(db, resource.name, naturalKeyOf(resource, body));
      return found;
    }
  };
}
