/**
 * Row ↔ value mapping shared by the SQL store adapters (SQLite and PostgreSQL): both keep the same
 * columns, differing only in how a driver returns booleans (0/1 or true/false), roster groups (a
 * JSON text or an array) and 64-bit times (number or decimal string).
 */
import { parse } from 'ltx';
import { Element, type OfflineMessage, type ResourcePresence, type RosterItem, type Subscription } from '@strand/core';

/**
 * Parses a stanza serialised with `Element.toString()`. `Element` is passed explicitly: the ESM
 * entry of `ltx` (src/) has its own `Element` class, distinct from the CommonJS `ltx/lib/Element.js`
 * that `@xmpp/xml` (and so core) uses, and `instanceof Element` must hold for stored stanzas.
 */
export const parseStanza = (xml: string): Element => parse(xml, { Element });

/** An epoch-ms time as a driver returns it: a number (SQLite) or a decimal string (PostgreSQL `BIGINT`). */
export type SqlTime = number | string;

/** A flag as a driver returns it: 0/1 (SQLite `INTEGER`) or a boolean (PostgreSQL `BOOLEAN`). */
type SqlFlag = number | boolean;

/** The columns of a roster item row. */
export interface RosterRow {
  jid: string;
  name: string | null;
  subscription: Subscription;
  ask: SqlFlag;
  pending_in: SqlFlag;
  approved: SqlFlag;
  /** A JSON array (SQLite) or a `TEXT[]` (PostgreSQL). */
  groups: string | string[];
  visible: SqlFlag;
  pending_in_stanza: string | null;
}

const flag = (v: SqlFlag): boolean => v === true || v === 1;

/** A roster item from its row; optional fields are left out when NULL. */
export const rosterItemOf = (r: RosterRow): RosterItem => ({
  jid: r.jid,
  ...(r.name !== null ? { name: r.name } : {}),
  subscription: r.subscription,
  ask: flag(r.ask),
  pendingIn: flag(r.pending_in),
  approved: flag(r.approved),
  groups: typeof r.groups === 'string' ? (JSON.parse(r.groups) as string[]) : [...r.groups],
  visible: flag(r.visible),
  ...(r.pending_in_stanza !== null ? { pendingInStanza: r.pending_in_stanza } : {}),
});

/** The nullable columns of a roster item (absent optional fields become NULL). */
export const rosterNullables = (item: RosterItem) => ({
  name: item.name ?? null,
  pendingInStanza: item.pendingInStanza ?? null,
});

/** The columns of a presence row. */
export interface PresenceRow {
  bare: string;
  resource: string;
  current: string | null;
  current_at: SqlTime | null;
  last_unavailable: string | null;
  last_unavailable_at: SqlTime | null;
}

/** A resource record from its row: stanzas parsed back, times in epoch ms. */
export const resourcePresenceOf = (r: PresenceRow): ResourcePresence => ({
  resource: r.resource,
  ...(r.current !== null ? { current: { stanza: parseStanza(r.current), at: Number(r.current_at) } } : {}),
  ...(r.last_unavailable !== null
    ? { lastUnavailable: { stanza: parseStanza(r.last_unavailable), at: Number(r.last_unavailable_at) } }
    : {}),
});

/**
 * The unavailable presence `markAllUnavailable` records for a resource that had a current presence
 * when the host started: `<presence from='bare/resource' type='unavailable'/>`, serialised.
 */
export const restartUnavailable = (bare: string, resource: string): string =>
  new Element('presence', { from: `${bare}/${resource}`, type: 'unavailable' }).toString();

/** The columns of an offline message row. */
export interface OfflineRow {
  id: number | string;
  stanza: string;
  at: SqlTime;
}

/** An offline message from its row. */
export const offlineMessageOf = (m: OfflineRow): OfflineMessage => ({
  id: Number(m.id),
  at: Number(m.at),
  stanza: parseStanza(m.stanza),
});
