/**
 * JID helpers on top of `@xmpp/jid` (RFC 7622). Local and domain parts are compared
 * case-insensitively; resources are case-sensitive.
 */
import { JID, jid as parseJidLib } from '@xmpp/jid';

export { JID };

/**
 * Localpart characters that make `@xmpp/jid` run its XEP-0106 escape detection (10 `replaceAll`
 * and a regex per parse, ~1.5 µs). A localpart without any of them is stored as is (lower-cased).
 */
const ESCAPE_CANDIDATE = /[ "&':<>\\]/;

/**
 * Parses a JID string.
 * @throws Error when the string is not a valid JID (callers answer `jid-malformed`).
 */
export function parseJid(s: string): JID {
  if (typeof s !== 'string' || s.length === 0 || s.length > 3071) throw new Error('jid-malformed');
  const j = parseFast(s) ?? parseJidLib(s);
  if (!j.domain) throw new Error('jid-malformed');
  if (j.local.length > 1023 || j.domain.length > 1023 || j.resource.length > 1023) throw new Error('jid-malformed');
  return j;
}

/**
 * The same JID as `@xmpp/jid`'s `parse` (same split on the first `/` then the first `@`, same
 * lower-casing, same object shape), without the escape detection when the localpart cannot need
 * escaping; `undefined` for everything else (the library then parses it).
 */
function parseFast(s: string): JID | undefined {
  const slash = s.indexOf('/');
  const rest = slash === -1 ? s : s.slice(0, slash);
  const at = rest.indexOf('@');
  const local = at === -1 ? '' : rest.slice(0, at);
  const domain = at === -1 ? rest : rest.slice(at + 1);
  if (domain === '' || ESCAPE_CANDIDATE.test(local)) return undefined;
  // An empty localpart skips the detection inside the constructor; the real one is set after.
  const j = new JID(null, domain, slash === -1 ? null : s.slice(slash + 1));
  (j as unknown as { _local: string })._local = local.toLowerCase();
  return j;
}

/** Parses a JID, returning `undefined` instead of throwing. */
export function tryParseJid(s: string | undefined): JID | undefined {
  if (s === undefined) return undefined;
  try {
    return parseJid(s);
  } catch {
    return undefined;
  }
}

/** The bare JID (`local@domain`) as a string. */
export function bareOf(j: JID | string): string {
  const p = typeof j === 'string' ? parseJid(j) : j;
  return p.bare().toString();
}

/** True when `j` has a resource part. */
export function isFull(j: JID): boolean {
  return j.resource !== '';
}
