/**
 * Helpers of the presence-probe real-socket tests: a server with the plugin and the host's IM
 * core, subscriptions through the real protocol, and barriers that make "nothing else came" checks
 * deterministic.
 */
import type { ContainerModule } from 'inversify';
import { RosterStore, ServerInfo, type RosterItem } from '@strand/core';
import presenceProbe from '@strand/presence-probe';
import { imModule, type ServerConfig } from '@strand/server';
import { startServer, type RunningServer } from './server.js';
import { xml, type TestXmpp } from './xmpp.js';

export const DELAY = 'urn:xmpp:delay';

/** Accounts of the probe tests (the default test accounts plus dave and erin). */
export const PROBE_ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin'].map((username) => ({ username, password: 'secret' }));

/**
 * Starts a server with `@strand/presence-probe` (config section `probeConfig`) and the host's IM
 * core (loaded by the server by default; passing `imModule` again is a no-op that states the need).
 */
export function startProbeServer(
  probeConfig: Record<string, unknown> = {},
  overrides: Partial<ServerConfig> = {},
  modules: ContainerModule[] = [],
): Promise<RunningServer> {
  return startServer(
    { accounts: PROBE_ACCOUNTS, plugins: { '@strand/presence-probe': probeConfig }, ...overrides },
    { plugins: { '@strand/presence-probe': presenceProbe }, modules: [imModule, ...modules] },
  );
}

/** The server's start time (epoch ms) as it will answer probes of its JID. */
export function startedAt(srv: RunningServer): number {
  return srv.server.container.get<ServerInfo>(ServerInfo).startedAt;
}

/** A roster item as stored (undefined when absent). */
export function rosterItem(srv: RunningServer, owner: string, contact: string): Promise<RosterItem | undefined> {
  return srv.server.container.get<RosterStore>(RosterStore).getItem(owner, contact);
}

/** Every roster of the given bare JIDs, for before/after comparisons. */
export async function rosterSnapshot(srv: RunningServer, owners: string[]): Promise<Record<string, unknown>> {
  const store = srv.server.container.get<RosterStore>(RosterStore);
  const out: Record<string, unknown> = {};
  for (const o of owners) out[o] = await store.get(o);
  return out;
}

/** Polls `check` every 20 ms until it is true, failing after `timeoutMs` of real time. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `subscriber` subscribes to `contact`'s presence through the real protocol (RFC 6121 §3.1):
 * `subscribe` from the subscriber, `subscribed` from the contact; resolves once the contact's
 * roster gives the subscriber `from` (or `both`).
 */
export async function subscribe(srv: RunningServer, subscriber: TestXmpp, contact: TestXmpp): Promise<void> {
  const s = bareOf(subscriber.jid);
  const c = bareOf(contact.jid);
  await subscriber.xmpp.send(xml('presence', { to: c, type: 'subscribe' }));
  await until(async () => (await rosterItem(srv, c, s))?.pendingIn === true, `${c} has a pending request from ${s}`);
  await contact.xmpp.send(xml('presence', { to: s, type: 'subscribed' }));
  await until(async () => {
    const item = await rosterItem(srv, c, s);
    return item?.subscription === 'from' || item?.subscription === 'both';
  }, `${c} shares presence with ${s}`);
}

export function bareOf(jid: string): string {
  const i = jid.indexOf('/');
  return i < 0 ? jid : jid.slice(0, i);
}

let barrierSeq = 0;
/**
 * Sends an XEP-0199 ping to the server and waits for its result. The server processes a stream's
 * stanzas one at a time and writes a probe's answers before it reads the next stanza, so every
 * answer to earlier probes has arrived once the pong is in.
 */
export async function barrier(c: TestXmpp): Promise<void> {
  const id = `barrier-${++barrierSeq}`;
  const pong = c.waitFor((el) => el.is('iq') && el.attrs.id === id);
  await c.xmpp.send(xml('iq', { type: 'get', to: 'localhost', id }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  await pong;
}

/** Sends a probe and returns the presence stanzas received in answer (up to a ping barrier). */
export async function probeWith(c: TestXmpp, to: string, id?: string): Promise<import('@xmpp/xml').Element[]> {
  const mark = c.inbox.length;
  await c.xmpp.send(xml('presence', { type: 'probe', to, ...(id ? { id } : {}) }));
  await barrier(c);
  return c.inbox.slice(mark).filter((el) => el.is('presence'));
}
