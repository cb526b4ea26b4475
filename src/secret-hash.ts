import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client and SIS secrets are 256 random bits, so a keyed hash (HMAC-SHA-256) is enough to store
 * them: there is nothing to brute-force, and a slow KDF would only cap token issuance.
 */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function keyedHash(hashKey: Buffer, secret: string): string {
  return createHmac('sha256', hashKey).update(secret, 'utf8').digest('hex');
}

/** Compares the presented secret's digest with the stored one in constant time. */
export function secretMatches(hashKey: Buffer, presented: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'hex');
  const actual = Buffer.from(keyedHash(hashKey, presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
