import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';

import type { Actor } from '../portal/audit.js';

/** The administrator behind a CLI command, as the audit trail names them. */
export function adminActor(): Actor & { kind: 'admin' } {
  let name = process.env.EDGATE_ADMIN || process.env.SUDO_USER || 'unknown';
  try {
    name = process.env.EDGATE_ADMIN || userInfo().username;
  } catch {
    // No passwd entry (some containers): keep the environment's name.
  }
  return { kind: 'admin', name };
}

/** One correlation id per CLI command, so its audit events can be told apart like a request's. */
export const commandId = `cli-${randomUUID()}`;
