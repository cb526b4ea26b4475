import { loadClaimSets } from '../config/claim-sets.js';
import { loadProfiles } from '../edfi/profiles/registry.js';
import { loadEdfiModel } from '../edfi/model/index.js';
import {
  createClient,
  describeClient,
  listClients,
  requireClient,
  rotateClientSecret,
  setClientDisabled,
  updateClient,
  type ClientInput,
  type ClientRules,
} from '../db/clients.js';
import { ApiError } from '../errors.js';
import { announceRevocation } from '../gateway/revocation.js';
import { approveApplication, listPendingApplications } from '../portal/applications.js';
import { actorName, audit } from '../portal/audit.js';
import { adminActor, commandId } from './actor.js';
import { flagList, flagString, keyValues, table, type AdminContext, type Command } from './context.js';

/** What a client may be given: the configured tiers, claim sets and the profiles defined in profilesDir. */
function rules({ config }: AdminContext): ClientRules {
  const { registry } = loadProfiles(config.profilesDir, loadEdfiModel(config.edfiApiSchema).metas);
  // A profile defined but invalid may still be assigned, as in the ODS/API; requests using it answer 406 until it is fixed.
  return { tiers: Object.keys(config.tiers), claimSets: Object.keys(loadClaimSets()), profiles: [...registry.profiles, ...registry.invalid].map((p) => p.name) };
}

function edorgIds(flags: AdminContext['flags']): number[] | undefined {
  const raw = flagList(flags, 'edorg');
  return raw?.map((value) => {
    const id = Number(value);
    if (!Number.isSafeInteger(id) || id <= 0) throw new ApiError('invalid_field', `--edorg must be an ed-org id, got "${value}"`);
    return id;
  });
}

function inputFrom({ flags }: AdminContext): ClientInput {
  return {
    name: flagString(flags, 'name'),
    tier: flagString(flags, 'tier'),
    claimSet: flagString(flags, 'claim-set'),
    edorgIds: edorgIds(flags),
    edorgsLater: flags['edorg-later'] === true,
    profiles: flagList(flags, 'profile'),
    namespacePrefixes: flagList(flags, 'namespace'),
    creatorToken: flagString(flags, 'creator-token'),
    ownershipTokens: flagList(flags, 'ownership-token'),
  };
}

function clientIdArg({ args }: AdminContext): string {
  if (!args[0]) throw new ApiError('missing_field', 'name the client: edgate client <action> CLIENT_ID');
  return args[0];
}

/** The database is the record; with Redis, every instance's revocation list is told at once too. */
async function setDisabled(ctx: AdminContext, disabled: boolean) {
  const client = await setClientDisabled(ctx.db, clientIdArg(ctx), disabled);
  await announceRevocation(ctx.config.redisUrl, ctx.config.redisPrefix, client.clientId, disabled);
  return client;
}

const shown = (view: ReturnType<typeof describeClient>) => ({ json: view, human: keyValues(view) });

/** The one moment a secret is visible: the create and rotate-secret output. */
function withSecret(view: ReturnType<typeof describeClient>, secret: string) {
  const { client_id, ...rest } = view;
  const json = { client_id, client_secret: secret, ...rest };
  return { json, human: JSON.stringify(json, null, 2), notice: 'Store the client_secret now: it is not shown again.' };
}

export const clientCommands: Record<string, Command> = {
  async create(ctx) {
    const { client, secret } = await createClient(ctx.db, await ctx.hashKey(), inputFrom(ctx), rules(ctx));
    return withSecret(describeClient(client), secret);
  },
  async list(ctx) {
    const clients = (await listClients(ctx.db)).map(describeClient);
    return { json: { clients }, human: table(clients, ['client_id', 'name', 'tier', 'claim_set', 'education_organization_ids', 'disabled']) };
  },
  async show(ctx) {
    return shown(describeClient(await requireClient(ctx.db, clientIdArg(ctx))));
  },
  async update(ctx) {
    return shown(describeClient(await updateClient(ctx.db, clientIdArg(ctx), inputFrom(ctx), rules(ctx))));
  },
  async 'rotate-secret'(ctx) {
    const { client, secret } = await rotateClientSecret(ctx.db, await ctx.hashKey(), clientIdArg(ctx));
    return withSecret(describeClient(client), secret);
  },
  async disable(ctx) {
    return shown(describeClient(await setDisabled(ctx, true)));
  },
  async enable(ctx) {
    return shown(describeClient(await setDisabled(ctx, false)));
  },
  /** Portal applications on a tier that needs approval, waiting for it. */
  async pending(ctx) {
    const applications = await listPendingApplications(ctx.db);
    return { json: { applications }, human: table(applications, ['client_id', 'name', 'tier', 'partner', 'created_at']) };
  },
  async approve(ctx) {
    const clientId = clientIdArg(ctx);
    const actor = adminActor();
    const approved = await approveApplication(ctx.db, clientId, actorName(actor));
    await audit(ctx.db, { actor, action: 'application.approved', subject: clientId, partnerId: approved.partnerId, requestId: commandId, detail: { tier: approved.tier } });
    return shown(describeClient(await requireClient(ctx.db, clientId)));
  },
};
