/**
 * In-memory reference implementations of the store interfaces. Used by `@strand/testing`, by the
 * host's `storage: { kind: memory }`, and as the executable specification the SQLite and
 * PostgreSQL adapters are tested against.
 */
import { injectable } from 'inversify';
import { Element, cloneElement } from './xml.js';
import type {
  AccountRecord,
  AccountStore,
  OfflineMessage,
  OfflineStore,
  OfflineStoreResult,
  PresenceStore,
  ResourcePresence,
  Roster,
  RosterItem,
  RosterStore,
} from './services.js';
import { bareOf, parseJid } from './jid.js';

const copyItem = (i: RosterItem): RosterItem => ({ ...i, groups: [...i.groups] });

/** Roster store in memory; versions are a per-user counter rendered as a decimal string. */
@injectable()
export class MemoryRosterStoreImpl implements RosterStore {
  private readonly rosters = new Map<string, { version: number; items: Map<string, RosterItem> }>();
  /** Versions keep increasing across `clear()` so a cached `ver` never matches a new roster (§2.6). */
  private readonly lastVersion = new Map<string, number>();

  private entry(user: string) {
    let e = this.rosters.get(user);
    if (!e) {
      e = { version: this.lastVersion.get(user) ?? 0, items: new Map() };
      this.rosters.set(user, e);
    }
    return e;
  }

  async get(user: string): Promise<Roster> {
    const e = this.rosters.get(user);
    if (!e) return { version: String(this.lastVersion.get(user) ?? 0), items: [] };
    return { version: String(e.version), items: [...e.items.values()].map(copyItem) };
  }

  async getItem(user: string, contact: string): Promise<RosterItem | undefined> {
    const i = this.rosters.get(user)?.items.get(contact);
    return i ? copyItem(i) : undefined;
  }

  async setItem(user: string, item: RosterItem): Promise<string> {
    const e = this.entry(user);
    e.items.set(item.jid, copyItem(item));
    e.version++;
    return String(e.version);
  }

  async removeItem(user: string, contact: string): Promise<string> {
    const e = this.entry(user);
    if (e.items.delete(contact)) e.version++;
    return String(e.version);
  }

  async clear(user: string): Promise<void> {
    const e = this.rosters.get(user);
    if (e) this.lastVersion.set(user, e.version + 1);
    this.rosters.delete(user);
  }
}

/** Presence store in memory. */
@injectable()
export class MemoryPresenceStoreImpl implements PresenceStore {
  private readonly accounts = new Map<string, Map<string, ResourcePresence>>();

  private record(fullJid: string): ResourcePresence {
    const j = parseJid(fullJid);
    const bare = j.bare().toString();
    let m = this.accounts.get(bare);
    if (!m) {
      m = new Map();
      this.accounts.set(bare, m);
    }
    let r = m.get(j.resource);
    if (!r) {
      r = { resource: j.resource };
      m.set(j.resource, r);
    }
    return r;
  }

  async setAvailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    this.record(fullJid).current = { stanza: cloneElement(stanza), at };
  }

  async setUnavailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    const r = this.record(fullJid);
    delete r.current;
    r.lastUnavailable = { stanza: cloneElement(stanza), at };
  }

  async get(bareJid: string): Promise<ResourcePresence[]> {
    const m = this.accounts.get(bareOf(bareJid));
    if (!m) return [];
    return [...m.values()].map((r) => ({
      resource: r.resource,
      ...(r.current ? { current: { stanza: cloneElement(r.current.stanza), at: r.current.at } } : {}),
      ...(r.lastUnavailable
        ? { lastUnavailable: { stanza: cloneElement(r.lastUnavailable.stanza), at: r.lastUnavailable.at } }
        : {}),
    }));
  }

  async markAllUnavailable(at: number): Promise<number> {
    let n = 0;
    for (const [bare, m] of this.accounts) {
      for (const r of m.values()) {
        if (!r.current) continue;
        r.lastUnavailable = {
          stanza: new Element('presence', { from: `${bare}/${r.resource}`, type: 'unavailable' }),
          at,
        };
        delete r.current;
        n++;
      }
    }
    return n;
  }

  async clear(bareJid: string): Promise<void> {
    this.accounts.delete(bareOf(bareJid));
  }
}

/** Offline store in memory with a per-user quota (`maxPerUser`, default 1000 messages). */
@injectable()
export class MemoryOfflineStoreImpl implements OfflineStore {
  /** Per-user quota in messages; tests may change it. */
  maxPerUser = 1000;
  private nextId = 1;
  private readonly boxes = new Map<string, OfflineMessage[]>();

  async store(bareJid: string, stanza: Element, at: number): Promise<OfflineStoreResult> {
    let box = this.boxes.get(bareJid);
    if (!box) {
      box = [];
      this.boxes.set(bareJid, box);
    }
    if (box.length >= this.maxPerUser) return 'quota-exceeded';
    const copy = cloneElement(stanza);
    box.push({ id: this.nextId++, stanza: copy, at });
    return 'stored';
  }

  async list(bareJid: string): Promise<OfflineMessage[]> {
    const box = this.boxes.get(bareJid) ?? [];
    return [...box]
      .sort((a, b) => a.at - b.at || a.id - b.id)
      .map((m) => ({ id: m.id, at: m.at, stanza: cloneElement(m.stanza) }));
  }

  async remove(bareJid: string, ids: readonly number[]): Promise<void> {
    const box = this.boxes.get(bareJid);
    if (!box) return;
    const drop = new Set(ids);
    this.boxes.set(
      bareJid,
      box.filter((m) => !drop.has(m.id)),
    );
  }

  async count(bareJid: string): Promise<number> {
    return this.boxes.get(bareJid)?.length ?? 0;
  }
}

/** Account store in memory. */
@injectable()
export class MemoryAccountStoreImpl implements AccountStore {
  private readonly accounts = new Map<string, AccountRecord>();
  async get(username: string): Promise<AccountRecord | undefined> {
    const r = this.accounts.get(username);
    return r ? structuredClone(r) : undefined;
  }
  async put(record: AccountRecord): Promise<void> {
    this.accounts.set(record.username, structuredClone(record));
  }
  async delete(username: string): Promise<boolean> {
    return this.accounts.delete(username);
  }
  async list(): Promise<string[]> {
    return [...this.accounts.keys()].sort();
  }
}
