import { listSigningKeys, rotateSigningKey } from '../keys/signing-keys.js';
import { table, type Command } from './context.js';

export const keyCommands: Record<string, Command> = {
  async list({ db, config }) {
    const keys = await listSigningKeys(db, config);
    return { json: { keys }, human: table(keys, ['kid', 'alg', 'status', 'created_at', 'published_until']) };
  },
  async rotate({ db, config }) {
    const kid = await rotateSigningKey(db, config);
    return {
      json: { rotated: true, active_kid: kid },
      human: `new signing key ${kid}; retired keys stay in the JWKS until their tokens expire (${config.tokenTtlSeconds} s). Running instances switch within ${config.refreshSeconds} s.`,
    };
  },
};
