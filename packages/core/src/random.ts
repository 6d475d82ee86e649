/**
 * Random tokens from the CSPRNG without the per-call cost of `crypto.randomBytes` (~7 µs for 16
 * bytes on Node 20 with OpenSSL 3, more on a cold path: a call into OpenSSL and a new Buffer each
 * time; a login draws several). Bytes come from a 4 KiB pool filled by `crypto.randomFillSync`;
 * each byte is used once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `bytes` random bytes from the CSPRNG, as base64url without padding (e.g. 16 bytes → 22
 * characters of `[A-Za-z0-9_-]`).
 * @throws RangeError unless `bytes` is an integer from 1 to 256
 */
export function randomToken(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`randomToken: 1–256 bytes, got ${bytes}`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return token;
}
