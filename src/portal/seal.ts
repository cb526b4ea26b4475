import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A key for one purpose, derived from the secret-hash key so every instance derives the same. */
export function derivedKey(hashKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', hashKey).update(`edgate portal: ${purpose}`).digest();
}

/** AES-256-GCM: a secret waiting to be shown once is never at rest in plain text, even for seconds. */
export function seal(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

export function unseal(key: Buffer, sealed: string): string {
  const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
}

/** A token bound to a context (an interaction, an invite): HMAC, compared in constant time. */
export function boundToken(key: Buffer, context: string): string {
  return createHmac('sha256', key).update(context).digest('base64url');
}

export function sameToken(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
