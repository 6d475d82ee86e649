/**
 * JID helpers on top of `@xmpp/jid` (RFC 7622). Local and domain parts are compared
 * case-insensitively; resources are case-sensitive.
 */
import { JID, jid as parseJidLib } from '@xmpp/jid';

export { JID };

/**
 * Parses a JID string.
 * @throws Error when the string is not a valid JID (callers answer `jid-malformed`).
 */
export function parseJid(s: string): JID {
  if (typeof s !== 'string' || s.length === 0 || s.length > 3071) throw new Error('jid-malformed');
  const j = parseJidLib(s);
  if (!j.domain) throw new Error('jid-malformed');
  if (j.local.length > 1023 || j.domain.length > 1023 || j.resource.length > 1023) throw new Error('jid-malformed');
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
