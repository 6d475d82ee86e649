/**
 * The XEP-0114 §3 handshake value: lower-case hex SHA-1 of the stream id followed by the secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** `hex(SHA1(streamId + secret))`, lower case (XEP-0114 §3, steps 1–4). */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

/**
 * Checks a component's `<handshake/>` character data in constant time. Upper-case hex is
 * accepted (the XEP asks the component to send lower case; being liberal costs nothing here);
 * surrounding whitespace is ignored.
 */
export function verifyHandshake(streamId: string, secret: string, received: string): boolean {
  const expected = Buffer.from(handshakeDigest(streamId, secret), 'ascii');
  const got = Buffer.from(received.trim().toLowerCase(), 'utf8');
  return got.length === expected.length && timingSafeEqual(got, expected);
}
