/**
 * Hardening: fault isolation. The host config's `overrides:` loads test/fixtures/faulty-overrides.ts,
 * which binds a throwing IqHandler, StanzaHandler, NonzaHandler, inbound and outbound interceptor
 * and rebinds stream management's engine to a throwing subclass. Each fault answers only the
 * offending stanza (`internal-server-error` stanza error; `<failed/>` for `<enable/>`/`<resume/>`;
 * an `internal-server-error` stream error for other nonzas, after which the SM session is still
 * resumable), logs a line naming the plugin, and the process and every other session carry on: a
 * bystander conversation (alice ⇄ bob, @xmpp/client) loses nothing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OfflineStore, type Logger, type OfflineStore as OfflineStoreT } from '@strand/core';
import sm, { StreamManagerImpl } from '@strand/stream-management';
import { startChatter, type Chatter } from '../helpers/chatter.js';
import { startServer, testConfig, type RunningServer } from '../helpers/server.js';
import { streamErrorAtEnd } from '../helpers/wire-client.js';
import { after, authenticate, countStanzas, delay, enableSm, SM3, until, WireClient } from './helpers.js';

interface Entry {
  level: string;
  msg: string;
  data: Record<string, unknown>;
}

/** A logger that records every entry (with its bindings). */
function recordingLogger(entries: Entry[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (a: unknown, b?: string): void => {
      const data = typeof a === 'object' && a !== null ? (a as Record<string, unknown>) : {};
      entries.push({ level, msg: typeof a === 'string' ? a : (b ?? ''), data: { ...bindings, ...data } });
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => recordingLogger(entries, { ...bindings, ...more }),
  } as Logger;
}

const entries: Entry[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
let srv: RunningServer;
let chatter: Chatter;
const clients: WireClient[] = [];

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  srv = await startServer(
    {
      accounts: [...testConfig().accounts, { username: 'dave', password: 'secret' }, { username: 'erin', password: 'secret' }],
      plugins: { '@strand/stream-management': { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 } },
      overrides: [join(process.cwd(), 'test', 'fixtures', 'faulty-overrides.ts')],
      log: { level: 'debug' },
    },
    { plugins: { '@strand/stream-management': sm }, logger: recordingLogger(entries) },
  );
  chatter = await startChatter(srv.ports, 20);
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await chatter?.stop();
  await srv?.stop();
  process.off('unhandledRejection', onUnhandled);
});

async function login(user: string, resource: string): Promise<WireClient> {
  const c = await WireClient.connect(srv.ports.c2s);
  clients.push(c);
  await c.login(user, 'secret', resource);
  return c;
}

/** The error entries naming `plugin` logged since `from`. */
const faults = (from: number, plugin: string) => entries.slice(from).filter((e) => e.level === 'error' && e.data.plugin === plugin);

const ISE = `<internal-server-error xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`;

describe('fault isolation (faulty override module)', () => {
  it('a throwing IqHandler: internal-server-error for that iq, a log line naming it, the stream carries on', async () => {
    const carol = await login('carol', 'iq');
    const from = entries.length;
    await carol.send(`<iq type='get' id='f1'><query xmlns='urn:strand:test:faulty'/></iq>`);
    await carol.waitFor(/id="f1"[^>]*>[\s\S]*?<\/iq>/);
    expect(carol.text).toContain(`<iq type="error" id="f1" to="carol@localhost/iq"><error type="cancel">${ISE}</error></iq>`);
    expect(faults(from, 'FaultyIqHandler')).toHaveLength(1);
    await carol.send(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await carol.waitFor(/<iq type="result" id="p1"/);
  });

  it('a throwing StanzaHandler: internal-server-error for that message; the recipient gets nothing from it', async () => {
    const dave = await login('dave', 'd1');
    const carol = await login('carol', 'sh');
    const from = entries.length;
    await carol.send(`<message to='dave@localhost/d1' type='chat' id='s1'><body>boom-stanza</body></message>`);
    await carol.waitFor(/<message type="error" id="s1"[\s\S]*?<\/message>/);
    expect(carol.text).toMatch(/<message type="error" id="s1" to="carol@localhost\/sh" from="dave@localhost\/d1"><body>boom-stanza<\/body><error type="cancel"><internal-server-error/);
    expect(faults(from, 'FaultyStanzaHandler')).toHaveLength(1);
    await carol.send(`<message to='dave@localhost/d1' type='chat' id='s2'><body>fine</body></message>`);
    await dave.waitFor(/id="s2"/);
    expect(dave.text).not.toContain('boom-stanza');
  });

  it('a throwing inbound interceptor: internal-server-error before next(), only a log line after it; SM counts the stanza as handled', async () => {
    const dave = await login('dave', 'd2');
    const carol = await login('carol', 'in');
    const { mark } = await enableSm(carol);
    const from = entries.length;
    await carol.send(`<message to='dave@localhost/d2' type='chat' id='i1'><body>boom-inbound</body></message>`);
    await carol.waitFor(/<message type="error" id="i1"[\s\S]*?<\/message>/);
    await carol.send(`<message to='dave@localhost/d2' type='chat' id='i2'><body>boom-after</body></message>`);
    await dave.waitFor(/id="i2"/);
    await carol.send(`<r xmlns='${SM3}'/>`);
    expect(await after(carol, mark, /<a [^>]*\/>/)).toContain(`<a xmlns="${SM3}" h="2"/>`);
    expect(carol.text).not.toMatch(/type="error" id="i2"/);
    expect(dave.text).not.toContain('boom-inbound');
    expect(faults(from, 'FaultyInboundInterceptor')).toHaveLength(2);
  });

  it('a throwing outbound interceptor: the stanza is treated as undeliverable to that session and stored offline, not lost', async () => {
    const erin = await login('erin', 'e1');
    const carol = await login('carol', 'out');
    const from = entries.length;
    await carol.send(`<message to='erin@localhost/e1' type='chat' id='o1'><body>boom-outbound</body></message>`);
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    await until(async () => (await offline.count('erin@localhost')) === 1, 5000, 'offline storage');
    expect((await offline.list('erin@localhost'))[0]!.stanza.getChildText('body')).toBe('boom-outbound');
    expect(erin.text).not.toContain('boom-outbound');
    expect(faults(from, 'FaultyOutboundInterceptor').length).toBeGreaterThanOrEqual(1);
    await carol.send(`<message to='erin@localhost/e1' type='chat' id='o2'><body>fine</body></message>`);
    await erin.waitFor(/id="o2"/);
  });

  it('a throwing NonzaHandler: internal-server-error stream error, and the SM session stays resumable', async () => {
    const carol = await login('carol', 'nz');
    const { id } = await enableSm(carol);
    const from = entries.length;
    await carol.send(`<boom xmlns='urn:strand:test:faulty'/>`);
    await carol.waitFor(streamErrorAtEnd('internal-server-error'));
    expect(faults(from, 'FaultyNonzaHandler')).toHaveLength(1);
    carol.sendCloseAndEnd();
    const manager = srv.server.container.get(StreamManagerImpl);
    await until(() => manager.hibernatingCount >= 1, 5000, 'hibernation');
    const bob = await login('bob', 'nz-sender');
    await bob.send(`<message to='carol@localhost/nz' type='chat' id='while-away'><body>while away</body></message>`);
    await delay(50);
    const again = await WireClient.connect(srv.ports.c2s);
    clients.push(again);
    await authenticate(again, 'carol');
    const m = again.text.length;
    await again.send(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(await after(again, m, /<body>while away<\/body>/)).toMatch(/^<resumed /);
  });

  it('a throwing SM engine: <failed><internal-server-error/> for <enable/> and <resume/>, a stream error for <r/>; all recoverable', async () => {
    const carol = await login('carol', 'smf');
    let from = entries.length;
    let mark = carol.text.length;
    await carol.send(`<enable xmlns='${SM3}' resume='true' max='13'/>`);
    expect(await after(carol, mark, /<\/failed>/)).toBe(`<failed xmlns="${SM3}">${ISE}</failed>`);
    expect(faults(from, '@strand/stream-management')).toHaveLength(1);
    const { id } = await enableSm(carol); // not a "second enable": the failed one left nothing behind
    await carol.send(`<presence/>`);

    from = entries.length;
    await carol.send(`<r xmlns='${SM3}' boom='1'/>`);
    await carol.waitFor(streamErrorAtEnd('internal-server-error'));
    expect(faults(from, 'Sm3NonzaHandlerImpl')).toHaveLength(1);
    const manager = srv.server.container.get(StreamManagerImpl);
    await until(() => manager.hibernatingCount >= 1, 5000, 'hibernation');

    const r = await WireClient.connect(srv.ports.c2s);
    clients.push(r);
    await authenticate(r, 'carol');
    from = entries.length;
    mark = r.text.length;
    await r.send(`<resume xmlns='${SM3}' previd='${id}' h='4242'/>`);
    expect(await after(r, mark, /<\/failed>/)).toBe(`<failed xmlns="${SM3}">${ISE}</failed>`);
    expect(faults(from, '@strand/stream-management')).toHaveLength(1);
    mark = r.text.length;
    await r.send(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    const resumed = await after(r, mark, /<resumed [^>]*\/>/);
    expect(resumed).toMatch(new RegExp(`^<resumed xmlns="${SM3}" h="1" previd="${id}"/>`));
    expect(countStanzas(resumed)).toBeGreaterThanOrEqual(0);
  });

  it('the bystanders never noticed: every message arrived in order, no unhandled rejection, nothing fatal', async () => {
    const report = await chatter.finish();
    expect(report.sent).toBeGreaterThan(10);
    expect(report.received).toEqual(Array.from({ length: report.sent }, (_, i) => String(i)));
    expect(report.receivedByAlice).toEqual(Array.from({ length: report.sentByBob }, (_, i) => String(i)));
    expect(report.incidents).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(entries.filter((e) => e.level === 'fatal')).toEqual([]);
    // Every error logged named the faulty contribution (no anonymous crash).
    const errors = entries.filter((e) => e.level === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(8);
    for (const e of errors) expect(typeof e.data.plugin).toBe('string');
  });
});
