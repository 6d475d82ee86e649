/**
 * `@strand/idle-close` together with `@strand/stream-management` (XEP-0198) on real sockets:
 *
 * (a) 100 messages in flight to an SM-enabled `@xmpp/client` 0.14 when its stream is closed for
 *     idleness: they are routed while the close runs (30 during `onClosing`, 70 racing the close
 *     tag). A closing stream refuses stanzas, so SM holds all of them and spills them to offline
 *     storage when the session ends: every message ends up in offline storage exactly once, none
 *     lost, none duplicated.
 * (b) a stanza a raw SM client sends after the server's close tag is processed but can no longer be
 *     acked (nothing may be written): the client only learns its `h` from `<failed h/>` on a later
 *     resume attempt — a client that does not use it may resend, a duplicate XEP-0198 §4 allows.
 *
 * Idle limit 2 s, `closeHandshake` 1 s.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import {
  OfflineStore,
  Priority,
  Router,
  StreamListener,
  xml,
  type OfflineStore as OfflineStoreT,
  type Router as RouterT,
  type StreamContext,
  type StreamListener as StreamListenerT,
} from '@strand/core';
import idleClose from '@strand/idle-close';
import streamManagement from '@strand/stream-management';
import { startServer, testConfig, type RunningServer } from './helpers/server.js';
import { CLOSE_TAG, header, WireClient } from './helpers/wire-client.js';
import { startClient, type TestXmpp } from './helpers/xmpp.js';
import { startWatchedClient, type WatchedClient } from './helpers/watched-client.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SM3 = 'urn:xmpp:sm:3';

/**
 * Test probe: when alice's stream starts its idle close, routes 100 messages to her — 30 while the
 * `onClosing` listeners run (after SM's final `<a/>`: they are written, unacked), 70 right after
 * (racing our close tag: refused by the stream, held by SM).
 */
class InFlightBurst implements StreamListenerT {
  readonly priority = Priority.stream.STREAM_MANAGEMENT - 100; // after SM's onClosing, before idle-close's
  router: RouterT | undefined;
  rest: Promise<void> | undefined;
  fired = false;

  private route(n: number): Promise<void> {
    return this.router!.route(
      xml('message', { from: 'bob@localhost/desk', to: 'alice@localhost/phone', type: 'chat', id: `m${n}` }, xml('body', {}, String(n))),
    );
  }

  async onClosing(ctx: StreamContext, options: { reason?: string }): Promise<void> {
    if (this.fired || options.reason !== 'idle' || ctx.session?.jid.toString() !== 'alice@localhost/phone') return;
    this.fired = true;
    for (let n = 1; n <= 30; n++) await this.route(n);
    this.rest = (async () => {
      for (let n = 31; n <= 100; n++) await this.route(n);
    })();
  }
}

describe('@strand/idle-close with stream management', () => {
  const servers: RunningServer[] = [];
  const closers: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  async function server(modules: ContainerModule[] = []): Promise<RunningServer> {
    const srv = await startServer(
      {
        timeouts: { preAuth: 60, closeHandshake: 1, read: 300 },
        plugins: {
          '@strand/stream-management': { resumeTimeout: 60 },
          '@strand/idle-close': { c2sIdle: 2 },
        },
        overrides: [join(process.cwd(), 'test', 'fixtures', 'idle-close-exempt.ts')],
        accounts: [...testConfig().accounts, { username: 'observer', password: 'secret' }],
      },
      { plugins: { '@strand/stream-management': streamManagement, '@strand/idle-close': idleClose }, modules },
    );
    servers.push(srv);
    return srv;
  }

  it('(a) 100 messages in flight to an SM client closed for idleness: each delivered or stored offline, none lost', async () => {
    const burst = new InFlightBurst();
    const srv = await server([new ContainerModule(({ bind }) => void bind(StreamListener).toConstantValue(burst))]);
    burst.router = srv.server.container.get<RouterT>(Router);
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);

    const alice: WatchedClient = await startWatchedClient({ port: srv.ports.c2s, username: 'alice', resource: 'phone' });
    closers.push(() => alice.stop());
    const sm = (alice.xmpp as unknown as { streamManagement: { enabled: boolean } }).streamManagement;
    // `online` fires after bind; <enabled/> answers the <enable/> sent right after it.
    for (let i = 0; i < 100 && !sm.enabled; i++) await sleep(10);
    expect(sm.enabled).toBe(true);

    await alice.waitStatus('close', 6000); // our close tag arrived
    expect(burst.fired).toBe(true);
    await alice.waitStatus('disconnect', 4000); // @xmpp/client never answers: cut at closeHandshake
    await burst.rest;

    // SM spills when the session ends (after the stream closed): wait until everything is accounted for.
    const delivered = () => new Set(alice.inbox.filter((el) => el.is('message')).map((el) => Number(el.getChildText('body'))));
    const stored = async () => (await offline.list('alice@localhost')).map((m) => Number(m.stanza.getChildText('body')));
    const deadline = Date.now() + 5000;
    let union = new Set<number>();
    while (Date.now() < deadline) {
      union = new Set([...delivered(), ...(await stored())]);
      if (union.size === 100) break;
      await sleep(50);
    }
    await sleep(200); // let a late spill show up if there were one
    const inbox = delivered();
    const storedIds = await stored();
    const both = storedIds.filter((n) => inbox.has(n));
    // eslint-disable-next-line no-console
    console.log(`idle close with SM: ${inbox.size} delivered, ${storedIds.length} stored offline, ${both.length} both (unacked duplicates)`);

    const missing = Array.from({ length: 100 }, (_, i) => i + 1).filter((n) => !inbox.has(n) && !storedIds.includes(n));
    expect(missing).toEqual([]);
    expect(new Set(storedIds).size).toBe(storedIds.length); // each stored once
    // Once the close starts, Session.send refuses stanzas at the stream: SM holds every one of them
    // and spills them to offline storage when the session ends — so none is delivered twice.
    expect(inbox.size).toBe(0);
    expect(storedIds).toHaveLength(100);
    expect(both).toEqual([]);
    for (const m of await offline.list('alice@localhost')) {
      // SM spills with the original time (XEP-0203), so offline delivery shows when it was sent.
      expect(m.stanza.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    }

    // SM's final <a/> went out in onClosing, before our close tag; nothing after the close tag.
    const closeAt = alice.input.indexOf(CLOSE_TAG);
    expect(closeAt).toBe(alice.input.length - CLOSE_TAG.length);
    expect(alice.input.slice(0, closeAt)).toMatch(/<a xmlns=["']urn:xmpp:sm:3["'] h=["']\d+["']\/>/);
    expect(alice.input).not.toContain('stream:error');
    expect(alice.errors).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toContain('strand_idle_close_closes_total{kind="c2s",reason="idle"} 1');
    expect(metrics).toContain('strand_idle_close_handshakes_total{reason="idle",result="timed-out"} 1');
    expect(metrics).toMatch(/strand_sm_spilled_total\{path="route"\} \d+/);
  }, 30_000);

  it('(b) a stanza sent after our close tag is processed but cannot be acked; <failed h/> tells the client', async () => {
    const srv = await server();
    const obs: TestXmpp = await startClient({ port: srv.ports.c2s, username: 'observer', resource: 'desk' });
    closers.push(() => obs.stop());
    const w = await WireClient.connect(srv.ports.c2s);
    closers.push(() => w.destroy());
    await w.login('alice', 'secret', 'raw');
    await w.send(`<enable xmlns='${SM3}' resume='true'/>`);
    const enabled = /<enabled [^>]*id=["']([^"']+)["']/.exec(await w.waitFor(/<enabled [^>]*\/>/))!;
    const smId = enabled[1]!;

    await w.waitFor(CLOSE_TAG, 5000);
    const tagEnd = w.text.indexOf(CLOSE_TAG) + CLOSE_TAG.length;
    // SM's last word before the close tag: <a h='0'/> (nothing received yet).
    expect(w.text.slice(w.text.indexOf('<enabled'))).toMatch(/<a xmlns=["']urn:xmpp:sm:3["'] h=["']0["']\/><\/stream:stream>$/);

    // After the server's close tag: a message and an ack request. The message is processed…
    await w.send(`<message to='observer@localhost/desk' type='chat' id='late'><body>late</body></message><r xmlns='${SM3}'/>`);
    const got = await obs.waitFor((el) => el.is('message') && el.attrs.id === 'late', 3000);
    expect(got.attrs.from).toBe('alice@localhost/raw');
    // …but cannot be acked: nothing may follow the close tag.
    await sleep(300);
    expect(w.text.length).toBe(tagEnd);
    w.sendCloseAndEnd();
    await w.waitClosed(2000);
    expect(w.text.length).toBe(tagEnd);

    // A resume attempt later: the session ended (idle close ends it), <failed h='1'/> says the
    // late message was handled. A client ignoring h would resend it (XEP-0198 §4 duplicate).
    const again = await WireClient.connect(srv.ports.c2s);
    closers.push(() => again.destroy());
    await again.send(header());
    await again.waitFor(/<\/stream:features>/);
    await again.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await again.waitFor(/<success/);
    await again.send(header());
    await again.waitFor(/<\/stream:features>[\s\S]*<\/stream:features>/);
    await again.send(`<resume xmlns='${SM3}' previd='${smId}' h='0'/>`);
    const failed = await again.waitFor(/<failed [^>]*>[\s\S]*?<\/failed>|<failed [^>]*\/>/, 3000);
    expect(failed).toMatch(/<failed xmlns=["']urn:xmpp:sm:3["'] h=["']1["']/);
  });
});
