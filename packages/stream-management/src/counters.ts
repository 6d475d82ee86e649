/**
 * XEP-0198 sequence-number arithmetic (XEP-0198 1.6.x §4 "Acks").
 *
 * Both counters of a stream management session — the inbound `h` (stanzas handled) and the
 * outbound count (stanzas sent) — are `xs:unsignedInt` values that wrap from 2^32 − 1 back to 0
 * "rather than being incremented to 2^32". Every comparison between them is therefore done modulo
 * 2^32: a number is never compared with `<`, only by its forward distance from another one.
 *
 * @packageDocumentation
 */

/** 2^32: the modulus of every XEP-0198 counter (§4). */
export const UINT32_MODULUS = 0x1_0000_0000;

/** 2^32 − 1: the largest value of an XEP-0198 counter. */
export const UINT32_MAX = 0xffff_ffff;

/** Canonical `xs:unsignedInt`: `0`, or a non-zero digit followed by at most nine digits. */
const CANONICAL_UINT = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * `(a + n) mod 2^32`.
 * @param a a counter value in [0, 2^32)
 * @param n any safe integer (may be negative or larger than 2^32)
 */
export function add32(a: number, n: number): number {
  const r = (a + (n % UINT32_MODULUS)) % UINT32_MODULUS;
  return r < 0 ? r + UINT32_MODULUS : r;
}

/** `(a + 1) mod 2^32` — the increment of §4 ("reset from 2^32 − 1 back to zero"). */
export function inc32(a: number): number {
  return a === UINT32_MAX ? 0 : a + 1;
}

/**
 * The forward distance from `from` to `to` modulo 2^32, in [0, 2^32): how many increments turn
 * `from` into `to`.
 */
export function distance32(from: number, to: number): number {
  const d = (to - from) % UINT32_MODULUS;
  return d < 0 ? d + UINT32_MODULUS : d;
}

/** True when `n` is an integer in [0, 2^32). */
export function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= UINT32_MAX;
}

/**
 * Parses a counter attribute (`h`, `u`) strictly: a non-negative integer below 2^32 written in
 * canonical decimal (no sign, no leading zeros, no spaces, no exponent).
 *
 * The XEP-0198 schema types `h` as `xs:unsignedInt`; the canonical lexical form is required so
 * that one number has exactly one spelling.
 * @returns the value, or `undefined` when `s` is absent or not canonical.
 */
export function parseUint32(s: string | undefined): number | undefined {
  if (typeof s !== 'string' || !CANONICAL_UINT.test(s)) return undefined;
  const n = Number(s);
  return n <= UINT32_MAX ? n : undefined;
}

/** Renders a counter in canonical decimal. @throws RangeError when `n` is not a uint32. */
export function formatUint32(n: number): string {
  if (!isUint32(n)) throw new RangeError(`not an unsignedInt: ${n}`);
  return String(n);
}

/**
 * How an acknowledged value `h` relates to the outbound queue (XEP-0198 §4, §5 "Error Handling").
 * - `ok`: `h` lies in [acked, sent]; `newlyAcked` stanzas leave the queue (0 for a repeated ack).
 * - `too-high`: `h` is beyond what was sent — the `handled-count-too-high` stream error (§5).
 * - `stale`: `h` is *behind* the last acknowledged value (by fewer than 2^31): an out-of-date
 *   ack that acknowledges nothing new. It is ignored.
 */
export type AckClassification =
  | { readonly kind: 'ok'; readonly newlyAcked: number }
  | { readonly kind: 'too-high' }
  | { readonly kind: 'stale'; readonly behind: number };

/**
 * Classifies an incoming `h` against the last acknowledged count `acked` and the count of
 * stanzas actually sent `sent` (both modulo 2^32; `sent` is at most 2^32 − 1 ahead of `acked`).
 *
 * The modulo space is split in two halves around `acked`: values ahead of `acked` by more than the
 * number of unacknowledged stanzas but at most 2^31 are too high; values behind `acked` by less
 * than 2^31 are stale.
 */
export function classifyAck(h: number, acked: number, sent: number): AckClassification {
  const ahead = distance32(acked, h);
  const outstanding = distance32(acked, sent);
  if (ahead <= outstanding) return { kind: 'ok', newlyAcked: ahead };
  const behind = distance32(h, acked);
  if (behind < 0x8000_0000) return { kind: 'stale', behind };
  return { kind: 'too-high' };
}
