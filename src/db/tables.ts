/** Row shapes as they come back from the database (both dialects). Booleans arrive as 0/1. */

export type EdorgType = 'sea' | 'esc' | 'lea' | 'school';

export interface EdorgRow {
  id: number;
  type: EdorgType;
  name: string;
  parent_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface ClientRow {
  client_id: string;
  name: string;
  secret_hash: string;
  tier: string;
  claim_set: string;
  namespace_prefixes: string;
  profiles: string;
  disabled: number | boolean;
  created_at: number;
  updated_at: number;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  encrypted: number | boolean;
  created_at: number;
  retired_at: number | null;
}
