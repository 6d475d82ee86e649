/**
 * SCRAM key derivation (RFC 5802 §3, RFC 7677). Pure computation, no I/O.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredentials } from './services.js';

/** Hash functions used by the supported SCRAM mechanisms. */
export type ScramHash = 'SHA-1' | 'SHA-256';

const nodeHash = (h: ScramHash): 'sha1' | 'sha256' => (h === 'SHA-1' ? 'sha1' : 'sha256');
const hashLen = (h: ScramHash): number => (h === 'SHA-1' ? 20 : 32);

/** HMAC(key, data) with the mechanism's hash. */
export function scramHmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(nodeHash(hash), key).update(data).digest();
}

/** H(data) with the mechanism's hash. */
export function scramH(hash: ScramHash, data: Buffer): Buffer {
  return createHash(nodeHash(hash)).update(data).digest();
}

/** SaltedPassword := Hi(Normalize(password), salt, i) (RFC 5802 §3). */
export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hashLen(hash), nodeHash(hash));
}

/**
 * Derives the stored credentials for a password.
 * @param iterations PBKDF2 iteration count (RFC 7677 recommends ≥ 4096)
 */
export function deriveScramCredentials(
  hash: ScramHash,
  password: string,
  iterations: number,
  salt: Buffer = randomBytes(16),
): ScramCredentials {
  const salted = saltedPassword(hash, password, salt, iterations);
  const clientKey = scramHmac(hash, salted, 'Client Key');
  const storedKey = scramH(hash, clientKey);
  const serverKey = scramHmac(hash, salted, 'Server Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}

/** Checks a plaintext password against stored credentials in constant time. */
export function verifyScramPassword(hash: ScramHash, creds: ScramCredentials, password: string): boolean {
  const salted = saltedPassword(hash, password, Buffer.from(creds.salt, 'base64'), creds.iterations);
  const storedKey = scramH(hash, scramHmac(hash, salted, 'Client Key'));
  const expected = Buffer.from(creds.storedKey, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}
