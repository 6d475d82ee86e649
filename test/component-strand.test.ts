/**
 * A component built with @strand/component connected to Strand's own XEP-0114 listener, with an
 * @xmpp/client user: XEP-0318 uptime answered by @strand/presence-probe running inside the
 * component, whitespace keepalives seen by the server, the close handshake on stop() in both
 * directions, reconnection, a wrong secret, and the server's `answerForComponents` fallback.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ServerInfo, type ServerInfo as ServerInfoT } from '@strand/core';
import { ComponentAuthError, createComponentHost, type ComponentHost, type ComponentHostOptions } from '@strand/component';
import idleClose from '@strand/idle-close';
import presenceProbe from '@strand/presence-probe';
import { imModule } from '@strand/server';
import type { Element } from '@xmpp/xml';
import {
  COMPONENT,
  SECRET,
  startComponentServer,
  until,
  type ComponentServer,
} from './helpers/component.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const DELAY = 'urn:xmpp:delay';

function infoOf(srv: ComponentServer): ServerInfoT {
  return srv.server.container.get<ServerInfoT>(ServerInfo);
}

/** A component host with presence-probe (and the sessionless-probe bridge) for `srv`. */
function componentFor(srv: ComponentServer, options: Partial<ComponentHostOptions> = {}): Promise<ComponentHost> {
  return createComponentHost({
    service: srv.service,
    domain: COMPONENT,
    password: SECRET,
    plugins: [presenceProbe],
    ...options,
    config: { reconnect: { initialDelay: 0.1, maxDelay: 1 }, ...options.config },
  });
}

/** Sends a probe of the component's JID and returns the presence answers received within `waitMs`. */
async function probeComponent(user: TestXmpp, id: string, waitMs = 400): Promise<Element[]> {
  const mark = user.inbox.length;
  await user.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id }));
  await user.waitFor((el) => el.is('presence') && el.attrs.from === COMPONENT && user.inbox.indexOf(el) >= mark, 5000);
  await new Promise((r) => setTimeout(r, waitMs));
  return user.inbox.slice(mark).filter((el) => el.is('presence') && el.attrs.from === COMPONENT);
}

function stampOf(el: Element): number {
  const d = el.getChild('delay', DELAY);
  expect(d?.attrs.from).toBe(COMPONENT);
  expect(d?.attrs.stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  return Date.parse(d!.attrs.stamp);
}

describe('@strand/component on the Strand server', () => {
  let srv: ComponentServer;
  let alice: TestXmpp;
  const hosts: ComponentHost[] = [];

  beforeAll(async () => {
    srv = await startComponentServer(
      { plugins: { '@strand/presence-probe': {} } },
      { plugins: { '@strand/presence-probe': presenceProbe }, modules: [imModule] },
    );
    alice = await startClient({ port: srv.ports.c2s, username: 'alice', resource: 'desk' });
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
    await until(() => infoOf(srv).components.size === 0, 'no component connected');
  });
  afterAll(async () => {
    await alice.stop();
    await srv.stop();
  });

  async function start(options: Partial<ComponentHostOptions> = {}): Promise<ComponentHost> {
    const host = await componentFor(srv, options);
    hosts.push(host);
    await host.start();
    return host;
  }

  it("answers a probe of the component's JID with available presence stamped with the component's start time", async () => {
    const t0 = Date.now();
    const host = await start();
    const startedAt = host.serverInfo.startedAt;
    expect(startedAt).toBeGreaterThanOrEqual(t0);
    expect(host.serverInfo.domain).toBe(COMPONENT);
    expect(infoOf(srv).components.has(COMPONENT)).toBe(true);
    const answers = await probeComponent(alice, 'u1');
    expect(answers).toHaveLength(1);
    expect(answers[0]!.attrs.type).toBeUndefined();
    expect(answers[0]!.attrs.to).toBe(alice.jid);
    expect(stampOf(answers[0]!)).toBe(startedAt);
  });

  it("answers disco#info for its JID through the server", async () => {
    await start({ config: { identity: { name: 'Uptime demo' } } });
    const result = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: COMPONENT }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    const q = result.getChild('query')!;
    expect(q.getChild('identity')!.attrs).toEqual({ category: 'component', type: 'generic', name: 'Uptime demo' });
    expect(q.getChildren('feature').map((f: { attrs: Record<string, string> }) => f.attrs.var)).toEqual(['http://jabber.org/protocol/disco#info', 'urn:xmpp:ping']);
  });

  it("sends whitespace keepalives that the server reads (lastReadAt moves, lastStanzaAt does not)", async () => {
    const host = await start({ config: { keepalive: { interval: 0.2 } } });
    const spaces: number[] = [];
    host.xmpp.on('output', (data: string) => {
      if (data === ' ') spaces.push(Date.now());
    });
    await until(() => srv.recorder.authenticated().length > 0 && srv.recorder.authenticated().at(-1)!.stream.state === 'open', 'server stream');
    const server = srv.recorder.authenticated().at(-1)!.stream;
    const stanzaAt = server.lastStanzaAt;
    const readAt = server.lastReadAt;
    await new Promise((r) => setTimeout(r, 900));
    expect(spaces.length).toBeGreaterThanOrEqual(2);
    expect(server.lastReadAt).toBeGreaterThan(readAt);
    // The server reads the last space a moment after the component wrote it (loaded machine).
    const lastSpace = spaces.at(-1)!;
    await until(() => server.lastReadAt >= lastSpace - 5, 'the server read the last space');
    expect(server.lastStanzaAt).toBe(stanzaAt);
    expect(server.state).toBe('open');
  });

  it('stop() performs the close handshake: the server sees the peer close and answers it', async () => {
    const host = await start();
    const rec = srv.recorder.authenticated().at(-1)!;
    const closed = host.stream!.closed;
    const input: string[] = [];
    host.xmpp.on('input', (d: string) => input.push(d));
    await host.stop();
    expect(host.status).toBe('offline');
    const info = await closed;
    expect(info).toEqual({ initiator: 'server', handshakeTimedOut: false, endSession: true, reason: 'stop' });
    expect(input.join('')).toContain('</stream:stream>');
    await until(() => rec.closeInfo !== undefined, 'server-side close');
    expect(rec.events.slice(-2)).toEqual(['closing:peer-close', 'closed:peer']);
    expect(rec.closeInfo).toMatchObject({ initiator: 'peer', handshakeTimedOut: false });
    expect(infoOf(srv).components.has(COMPONENT)).toBe(false);
  });

  it('a wrong secret fails start() with ComponentAuthError (not-authorized) and is not retried', async () => {
    const before = srv.recorder.streams.length;
    const host = await componentFor(srv, { password: 'wrong' });
    hosts.push(host);
    const err = await host.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComponentAuthError);
    expect(err).toMatchObject({ condition: 'not-authorized', domain: COMPONENT });
    expect((err as Error).message).toContain('shared secret');
    await new Promise((r) => setTimeout(r, 500));
    expect(srv.recorder.streams.length - before).toBe(1);
    expect(host.status).toBe('offline');
  });

  it('reconnects with backoff when the server closes its stream; uptime stays the start time', async () => {
    const host = await start();
    const startedAt = host.serverInfo.startedAt;
    const events: string[] = [];
    host.on('disconnected', (i) => events.push(`disconnected:${i.initiator}`));
    host.on('reconnecting', (r) => events.push(`reconnecting:${r.attempt}`));
    host.on('online', () => events.push('online'));
    const first = srv.recorder.authenticated().at(-1)!;
    const connectedAt = infoOf(srv).components.get(COMPONENT)!.connectedAt;
    await new Promise((r) => setTimeout(r, 20));
    await first.stream.close({ reason: 'test' });
    expect(first.closeInfo).toMatchObject({ initiator: 'server', handshakeTimedOut: false });
    await until(() => events.includes('online'), 'back online');
    expect(events).toEqual(['disconnected:peer', 'reconnecting:1', 'online']);
    expect(infoOf(srv).components.get(COMPONENT)!.connectedAt).toBeGreaterThan(connectedAt);
    const answers = await probeComponent(alice, 'u2');
    expect(answers.map(stampOf)).toEqual([startedAt]);
  });
});

describe('@strand/component with server-side plugins', () => {
  it("answerForComponents: a component running presence-probe answers itself; one without it is answered for", async () => {
    const srv = await startComponentServer(
      { plugins: { '@strand/presence-probe': { answerForComponents: true, componentAnswerTimeout: 0.3 } } },
      { plugins: { '@strand/presence-probe': presenceProbe }, modules: [imModule] },
    );
    const alice = await startClient({ port: srv.ports.c2s, username: 'alice', resource: 'desk' });
    const hosts: ComponentHost[] = [];
    try {
      const withProbe = await componentFor(srv);
      hosts.push(withProbe);
      await withProbe.start();
      await new Promise((r) => setTimeout(r, 30));
      const own = await probeComponent(alice, 'a1', 600);
      expect(own.map(stampOf)).toEqual([withProbe.serverInfo.startedAt]);
      await withProbe.stop();

      const plain = await createComponentHost({ service: srv.service, domain: COMPONENT, password: SECRET });
      hosts.push(plain);
      await plain.start();
      const connectedAt = infoOf(srv).components.get(COMPONENT)!.connectedAt;
      const fallback = await probeComponent(alice, 'a2', 600);
      expect(fallback.map(stampOf)).toEqual([connectedAt]);
    } finally {
      for (const h of hosts) await h.stop();
      await alice.stop();
      await srv.stop();
    }
  });

  it('idle-close on the server closes an idle component through the handshake; the component reconnects', async () => {
    const srv = await startComponentServer(
      { plugins: { '@strand/idle-close': { componentIdle: 1 } } },
      { plugins: { '@strand/idle-close': idleClose } },
    );
    // Whitespace keepalives do not count as activity for idle-close.
    const host = await componentFor(srv, { config: { keepalive: { interval: 0.25 } } });
    try {
      const closes: string[] = [];
      host.on('disconnected', (i) => closes.push(`${i.initiator}:${i.handshakeTimedOut}:${i.error?.condition ?? 'none'}`));
      await host.start();
      await until(() => closes.length > 0, 'idle close', 4000);
      expect(closes).toEqual(['peer:false:none']);
      const first = srv.recorder.authenticated()[0]!;
      await until(() => first.closeInfo !== undefined, 'server-side close');
      expect(first.closeInfo).toMatchObject({ initiator: 'server', handshakeTimedOut: false, reason: 'idle' });
      await until(() => host.status === 'online' && srv.recorder.authenticated().length === 2, 'reconnected', 4000);
    } finally {
      await host.stop();
      await srv.stop();
    }
  });
});
