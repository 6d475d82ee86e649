/**
 * SCRAM key derivation (RFC 5802 §3, RFC 7677). Pure computation, no I/O.
 */
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
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
 * {@link saltedPassword} on the libuv thread pool (`crypto.pbkdf2`): the event loop stays free and
 * a second core can do the PBKDF2 work. Same result.
 */
export function saltedPasswordAsync(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hashLen(hash), nodeHash(hash), (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** The stored credentials derived from a salted password. */
function credentialsFrom(hash: ScramHash, salted: Buffer, salt: Buffer, iterations: number): ScramCredentials {
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
  return credentialsFrom(hash, saltedPassword(hash, password, salt, iterations), salt, iterations);
}

/** {@link deriveScramCredentials} with the PBKDF2 work on the libuv thread pool. */
export async function deriveScramCredentialsAsync(
  hash: ScramHash,
  password: string,
  iterations: number,
  salt: Buffer = randomBytes(16),
): Promise<ScramCredentials> {
  return credentialsFrom(hash, await saltedPasswordAsync(hash, password, salt, iterations), salt, iterations);
}

/** Checks a plaintext password against stored credentials in constant time. */
export function verifyScramPassword(hash: ScramHash, creds: ScramCredentials, password: string): boolean {
  return storedKeyMatches(hash, creds, saltedPassword(hash, password, Buffer.from(creds.salt, 'base64'), creds.iterations));
}

/** {@link verifyScramPassword} with the PBKDF2 work on the libuv thread pool. */
export async function verifyScramPasswordAsync(hash: ScramHash, creds: ScramCredentials, password: string): Promise<boolean> {
  const salted = await saltedPasswordAsync(hash, password, Buffer.from(creds.salt, 'base64'), creds.iterations);
  return storedKeyMatches(hash, creds, salted);
}

function storedKeyMatches(hash: ScramHash, creds: ScramCredentials, salted: Buffer): boolean {
  const storedKey = scramH(hash, scramHmac(hash, salted, 'Client Key'));
  const expected = Buffer.from(creds.storedKey, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}
