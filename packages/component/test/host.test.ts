/**
 * ComponentHost against a scriptable XEP-0114 server on a loopback socket: handshake, the hook
 * pipeline for what the server sends, keepalives, the close handshake in both directions, errors
 * and reconnection with backoff.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { z } from 'zod';
import {
  definePlugin,
  InboundStanzaInterceptor,
  Priority,
  StanzaError,
  StanzaHandler,
  StreamListener,
  xml,
  type CloseInfo,
  type StanzaContext,
  type StreamContext,
  type XmlStream,
} from '@strand/core';
import { TestLogger } from '@strand/testing';
import {
  ComponentAuthError,
  ComponentConnectionError,
  ComponentStreamError,
  createComponentHost,
  type ComponentHost,
  type ComponentHostOptions,
} from '../src/index.js';
import { FakeComponentServer, type FakeConnection } from './fake-server.js';

const DOMAIN = 'component.example';
const CLOSE = '</stream:stream>';

let fake: FakeComponentServer | undefined;
const hosts: ComponentHost[] = [];

afterEach(async () => {
  for (const h of hosts.splice(0)) {
    // Answer a pending close so that stop() is quick, then stop.
    for (const c of fake?.connections ?? []) if (c.isOpen) c.send(CLOSE);
    await h.stop();
  }
  await fake?.stop();
  fake = undefined;
});

/** Records the stream listener calls the host makes. */
@injectable()
class RecordingListener implements StreamListener {
  readonly priority = 10;
  readonly calls: string[] = [];
  closedInfo: CloseInfo[] = [];
  onOpened(stream: XmlStream): void {
    this.calls.push(`opened:${stream.kind}:${stream.streamId}`);
  }
  onAuthenticated(ctx: StreamContext): void {
    this.calls.push(`authenticated:${ctx.authenticatedJid?.toString()}`);
  }
  onClosing(ctx: StreamContext, opts: { reason?: string }): void {
    this.calls.push(`closing:${opts.reason}`);
    ctx.stream.writeNonza(xml('bye', { xmlns: 'urn:example' }));
  }
  onClosed(_ctx: StreamContext, info: CloseInfo): void {
    this.calls.push(`closed:${info.initiator}`);
    this.closedInfo.push(info);
  }
}

async function startHost(
  options: Partial<ComponentHostOptions> & { config?: ComponentHostOptions['config'] } = {},
): Promise<{ host: ComponentHost; conn: FakeConnection; listener: RecordingListener }> {
  fake ??= await FakeComponentServer.start({ domain: DOMAIN, secret: 'secret' });
  const listener = new RecordingListener();
  const host = await createComponentHost({
    service: fake.service,
    domain: DOMAIN,
    password: 'secret',
    random: () => 0,
    ...options,
    config: { keepalive: { interval: 0 }, reconnect: { initialDelay: 0.1, maxDelay: 1, jitter: 0 }, ...options.config },
    modules: [
      new ContainerModule(({ bind }) => {
        bind(StreamListener).toConstantValue(listener);
      }),
      ...(options.modules ?? []),
    ],
  });
  hosts.push(host);
  await host.start();
  const conn = await fake.online(fake.connections.length - 1);
  return { host, conn, listener };
}

/** The stanzas after the handshake that the component wrote, as text. */
function written(conn: FakeConnection): string {
  return conn.received.slice(conn.received.indexOf('</handshake>') + '</handshake>'.length);
}

describe('ComponentHost', () => {
  it('opens the stream to its domain, proves the secret with the XEP-0114 digest and runs stream listeners', async () => {
    const { host, conn, listener } = await startHost();
    // The fake server only answers <handshake/> to hex(SHA1(id + secret)).
    expect(conn.received).toMatch(/^<\?xml version='1.0'\?><stream:stream [^>]*xmlns="jabber:component:accept"[^>]*to="component.example"/);
    expect(host.status).toBe('online');
    expect(host.stream?.kind).toBe('component');
    expect(host.stream?.authenticatedJid?.toString()).toBe(DOMAIN);
    expect(listener.calls).toEqual([`opened:component:${conn.streamId}`, `authenticated:${DOMAIN}`]);
    expect(host.serverInfo.domain).toBe(DOMAIN);
    expect(host.serverInfo.components.size).toBe(0);
  });

  it('answers disco#info and ping for its JID, service-unavailable for other iqs, and bounces unhandled messages', async () => {
    const { conn } = await startHost({ config: { identity: { name: 'Test service' } } });
    conn.send(`<iq type='get' id='d1' from='u@example/r' to='${DOMAIN}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    conn.send(`<iq type='get' id='p1' from='u@example/r' to='${DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    conn.send(`<iq type='get' id='v1' from='u@example/r' to='${DOMAIN}'><query xmlns='jabber:iq:version'/></iq>`);
    conn.send(`<message id='m1' from='u@example/r' to='bot@${DOMAIN}'><body>hi</body></message>`);
    conn.send(`<message id='m2' type='error' from='u@example/r' to='bot@${DOMAIN}'/>`);
    await conn.waitFor(/id="m1"[\s\S]*service-unavailable/);
    const out = written(conn);
    expect(out).toContain(
      `<iq type="result" id="d1" to="u@example/r" from="${DOMAIN}"><query xmlns="http://jabber.org/protocol/disco#info">` +
        `<identity category="component" type="generic" name="Test service"/>` +
        `<feature var="http://jabber.org/protocol/disco#info"/><feature var="urn:xmpp:ping"/></query></iq>`,
    );
    expect(out).toContain(`<iq type="result" id="p1" to="u@example/r" from="${DOMAIN}"/>`);
    expect(out).toMatch(/<iq type="error" id="v1" to="u@example\/r" from="component.example"><error type="cancel"><service-unavailable/);
    expect(out).toMatch(/<message type="error" id="m1" to="u@example\/r" from="bot@component.example"><body>hi<\/body><error type="cancel"><service-unavailable/);
    expect(out).not.toContain('id="m2"');
  });

  it('hands unconsumed messages and presence to `stanza` listeners', async () => {
    const { host, conn } = await startHost();
    const got: string[] = [];
    host.on('stanza', (s, ctx) => got.push(`${s.name}:${ctx.from.toString()}->${ctx.to?.toString()}:${ctx.session === undefined}`));
    conn.send(`<message id='m1' from='u@example/r' to='bot@${DOMAIN}'><body>hi</body></message>`);
    conn.send(`<presence from='u@example/r' to='${DOMAIN}'/>`);
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([`message:u@example/r->bot@${DOMAIN}:true`, `presence:u@example/r->${DOMAIN}:true`]);
    expect(written(conn)).not.toContain('error');
  });

  it('loads plugins unchanged: validated config, stanza handlers, inbound interceptors in order, disco features', async () => {
    const seen: string[] = [];
    @injectable()
    class EchoHandler implements StanzaHandler {
      readonly priority = Priority.stanza.HOST_IM + 1;
      async handle(ctx: StanzaContext): Promise<boolean> {
        if (ctx.stanza.name !== 'message') return false;
        seen.push(`handle:${ctx.stanza.attrs.id}`);
        // Slow first stanza: the second must still wait for it (strict in-order processing).
        if (ctx.stanza.attrs.id === 'a') await new Promise((r) => setTimeout(r, 50));
        return true;
      }
    }
    @injectable()
    class Outer implements InboundStanzaInterceptor {
      readonly priority = 100;
      async intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
        seen.push(`in:${ctx.stanza.attrs.id}`);
        await next();
        seen.push(`out:${ctx.stanza.attrs.id}`);
      }
    }
    let configured: unknown;
    const plugin = definePlugin({
      name: '@example/echo',
      configKey: '@example/echo',
      configSchema: z.object({ greeting: z.string().default('hello') }).strict(),
      features: ['urn:example:echo'],
      module: (cfg) =>
        new ContainerModule(({ bind }) => {
          configured = cfg;
          bind(EchoHandler).toSelf().inSingletonScope();
          bind(StanzaHandler).toService(EchoHandler);
          bind(Outer).toSelf().inSingletonScope();
          bind(InboundStanzaInterceptor).toService(Outer);
        }),
    });
    const { conn } = await startHost({ plugins: [plugin], config: { plugins: { '@example/echo': { greeting: 'hi' } } } });
    expect(configured).toEqual({ greeting: 'hi' });
    conn.send(`<message id='a' from='u@example/r' to='${DOMAIN}'/><message id='b' from='u@example/r' to='${DOMAIN}'/>`);
    conn.send(`<iq type='get' id='d1' from='u@example/r' to='${DOMAIN}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    await conn.waitFor('id="d1"');
    expect(seen).toEqual(['in:a', 'handle:a', 'out:a', 'in:b', 'handle:b', 'out:b', 'in:d1', 'out:d1']);
    expect(written(conn)).toContain('<feature var="urn:example:echo"/>');
  });

  it('plugin faults become stanza errors; unknown nonzas close the stream with unsupported-stanza-type', async () => {
    @injectable()
    class Faulty implements StanzaHandler {
      readonly priority = 1;
      handle(ctx: StanzaContext): boolean {
        if (ctx.stanza.attrs.id === 'boom') throw new Error('bug');
        if (ctx.stanza.attrs.id === 'nope') throw new StanzaError('not-allowed', undefined, 'no way');
        return false;
      }
    }
    const logger = new TestLogger();
    const { conn, listener } = await startHost({
      logger,
      modules: [new ContainerModule(({ bind }) => void bind(StanzaHandler).to(Faulty).inSingletonScope())],
    });
    conn.send(`<message id='boom' from='u@example/r' to='${DOMAIN}'/><message id='nope' from='u@example/r' to='${DOMAIN}'/>`);
    await conn.waitFor(/id="nope"[^>]*>.*not-allowed/);
    expect(written(conn)).toMatch(/<message type="error" id="boom" to="u@example\/r" from="component.example"><error type="cancel"><internal-server-error/);
    expect(written(conn)).toContain('<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">no way</text>');
    expect(logger.entries.some((e) => e.level === 'error' && e.msg.includes('internal-server-error'))).toBe(true);
    conn.send(`<surprise xmlns='urn:example'/>`);
    await conn.waitFor(CLOSE);
    expect(written(conn)).toMatch(/<stream:error><unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    conn.send(CLOSE);
    conn.socket.end();
    await conn.closed;
    expect(listener.calls).toContain('closing:unsupported-stanza-type');
  });

  it('runs onReadTimeout listeners after timeouts.read of silence from the server', async () => {
    const timeouts: string[] = [];
    const { conn } = await startHost({
      config: { timeouts: { read: 0.3 } },
      modules: [
        new ContainerModule(({ bind }) =>
          void bind(StreamListener).toConstantValue({
            priority: 0,
            onReadTimeout: (ctx: StreamContext) => {
              timeouts.push(ctx.stream.kind);
              return 'handled' as const;
            },
          }),
        ),
      ],
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(timeouts).toEqual(['component']); // once per silence
    conn.send(' ');
    await new Promise((r) => setTimeout(r, 1500));
    expect(timeouts).toEqual(['component', 'component']);
  });

  it('forwards iq responses to @xmpp/component\'s iqCaller', async () => {
    const { host, conn } = await startHost();
    const pending = host.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'example', id: 'q1' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    await conn.waitFor(/<iq [^>]*id="q1"/);
    expect(written(conn)).toMatch(/<iq type="get" to="example" id="q1" from="component.example"><ping xmlns="urn:xmpp:ping"\/><\/iq>/);
    conn.send(`<iq type='result' id='q1' from='example' to='${DOMAIN}'/>`);
    const result = await pending;
    expect(result.attrs.type).toBe('result');
  });

  it('routes out only stanzas from within its domain (subdomains included), and drops while offline', async () => {
    const { host, conn } = await startHost();
    await host.send(xml('message', { to: 'u@example', id: 'ok1' }));
    await host.send(xml('message', { to: 'u@example', from: `bot@x.${DOMAIN}`, id: 'ok2' }));
    await host.send(xml('message', { to: 'u@example', from: 'bot@elsewhere.example', id: 'bad' }));
    await host.send(xml('message', { id: 'noto' }));
    await conn.waitFor('id="ok2"');
    const out = written(conn);
    expect(out).toContain(`<message to="u@example" id="ok1" from="${DOMAIN}"/>`);
    expect(out).toContain(`<message to="u@example" from="bot@x.${DOMAIN}" id="ok2"/>`);
    expect(out).not.toContain('id="bad"');
    expect(out).not.toContain('id="noto"');
  });

  it('sends whitespace keepalives when it wrote nothing for the interval; writes postpone them', async () => {
    const { host, conn } = await startHost({ config: { keepalive: { interval: 0.2 } } });
    const base = conn.received.length;
    await new Promise((r) => setTimeout(r, 700));
    const spaces = conn.received.slice(base);
    expect(spaces).toMatch(/^ {2,}$/); // about one per 200 ms of silence, nothing else
    expect(spaces.length).toBeLessThanOrEqual(4);
    // A stanza written now postpones the next keepalive by a whole interval.
    const before = conn.received.length;
    await host.send(xml('message', { to: 'u@example', id: 'k' }));
    await new Promise((r) => setTimeout(r, 120));
    expect(conn.received.slice(before)).toBe(`<message to="u@example" id="k" from="${DOMAIN}"/>`);
    await new Promise((r) => setTimeout(r, 200));
    expect(conn.received.slice(before).endsWith(' ')).toBe(true);
  });

  it('stop(): onClosing may still write, then </stream:stream>, then it waits for the server\'s close tag', async () => {
    const { host, conn, listener } = await startHost();
    const stopping = host.stop();
    await conn.waitFor(CLOSE);
    expect(written(conn)).toBe(`<bye xmlns="urn:example"/>${CLOSE}`);
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false); // still waiting for the server's close tag
    conn.send(CLOSE);
    conn.socket.end();
    await stopping;
    expect(host.status).toBe('offline');
    expect(listener.calls.slice(-2)).toEqual(['closing:stop', 'closed:server']);
    expect(listener.closedInfo[0]).toEqual({ initiator: 'server', handshakeTimedOut: false, endSession: true, reason: 'stop' });
    await conn.closed;
  });

  it('stop(): when the server never answers, the socket is dropped after timeouts.closeHandshake', async () => {
    const { host, conn, listener } = await startHost({ config: { timeouts: { closeHandshake: 0.3 } } });
    const t0 = Date.now();
    await host.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(listener.closedInfo[0]).toMatchObject({ initiator: 'server', handshakeTimedOut: true });
    await conn.closed;
  });

  it('answers the server\'s close tag with its own, then reconnects with backoff', async () => {
    const { host, conn, listener } = await startHost();
    const events: string[] = [];
    host.on('disconnected', (info) => events.push(`disconnected:${info.initiator}`));
    host.on('reconnecting', ({ attempt, delayMs }) => events.push(`reconnecting:${attempt}:${delayMs}`));
    host.on('online', () => events.push('online'));
    conn.send(CLOSE);
    await conn.waitFor(CLOSE);
    expect(written(conn)).toBe(`<bye xmlns="urn:example"/>${CLOSE}`);
    conn.socket.end();
    await fake!.online(1);
    for (let i = 0; i < 100 && !events.includes('online'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['disconnected:peer', 'reconnecting:1:100', 'online']);
    expect(listener.calls).toContain('closing:peer-close');
    expect(listener.closedInfo[0]).toMatchObject({ initiator: 'peer', handshakeTimedOut: false });
    expect(host.status).toBe('online');
  });

  it('reconnects after a lost transport, backing off while attempts fail', async () => {
    const { host, conn } = await startHost({ config: { timeouts: { connect: 0.2 } } });
    const delays: number[] = [];
    const errors: string[] = [];
    host.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    host.on('error', (err) => errors.push(err.name));
    fake!.behaviour = 'silent';
    conn.socket.destroy();
    await fake!.connection(2, 5000); // attempt 1 and 2 time out
    fake!.behaviour = 'accept';
    await fake!.online(3);
    for (let i = 0; i < 100 && host.status !== 'online'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(host.status).toBe('online');
    expect(delays).toEqual([100, 200, 400]);
    expect(errors).toEqual(['ComponentConnectionError', 'ComponentConnectionError']);
  });

  it('a wrong secret rejects start() with ComponentAuthError (not-authorized) and is not retried', async () => {
    fake = await FakeComponentServer.start({ domain: DOMAIN, secret: 'secret' });
    const host = await createComponentHost({ service: fake.service, domain: DOMAIN, password: 'wrong' });
    hosts.push(host);
    const err = await host.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ComponentAuthError);
    expect((err as ComponentAuthError).condition).toBe('not-authorized');
    expect((err as Error).message).toMatch(/authentication of component\.example failed: <not-authorized\/>.*secret/);
    expect(host.status).toBe('offline');
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.connections).toHaveLength(1);
    // The stream was closed properly: our close tag answered the server's error.
    expect(fake.connections[0]!.received.endsWith(CLOSE)).toBe(true);
  });

  it('an unknown component name is a ComponentAuthError (host-unknown)', async () => {
    fake = await FakeComponentServer.start({ domain: 'other.example' });
    const host = await createComponentHost({ service: fake.service, domain: DOMAIN, password: 'secret' });
    hosts.push(host);
    await expect(host.start()).rejects.toMatchObject({ name: 'ComponentAuthError', condition: 'host-unknown' });
  });

  it('conflict (already connected) is a ComponentStreamError, not an authentication error', async () => {
    fake = await FakeComponentServer.start({ domain: DOMAIN });
    fake.behaviour = 'conflict';
    const host = await createComponentHost({ service: fake.service, domain: DOMAIN, password: 'secret' });
    hosts.push(host);
    const err = await host.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComponentStreamError);
    expect(err).not.toBeInstanceOf(ComponentAuthError);
    expect((err as ComponentStreamError).condition).toBe('conflict');
  });

  it('connection failures are ComponentConnectionErrors: refused, and no answer within timeouts.connect', async () => {
    fake = await FakeComponentServer.start({ domain: DOMAIN });
    const port = fake.port;
    fake.behaviour = 'silent';
    const silent = await createComponentHost({ service: fake.service, domain: DOMAIN, password: 'secret', config: { timeouts: { connect: 0.2 } } });
    hosts.push(silent);
    await expect(silent.start()).rejects.toThrow(ComponentConnectionError);
    await fake.stop();
    fake = undefined;
    const refused = await createComponentHost({ service: `xmpp://127.0.0.1:${port}`, domain: DOMAIN, password: 'secret' });
    hosts.push(refused);
    await expect(refused.start()).rejects.toThrow(/cannot connect to xmpp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(refused.status).toBe('offline');
  });

  it('stop() while the handshake is pending aborts start() and leaves nothing running', async () => {
    fake = await FakeComponentServer.start({ domain: DOMAIN });
    fake.behaviour = 'silent';
    const host = await createComponentHost({ service: fake.service, domain: DOMAIN, password: 'secret' });
    hosts.push(host);
    const starting = host.start().catch((e: unknown) => e);
    const conn = await fake.connection(0);
    await conn.waitFor('<stream:stream');
    await host.stop();
    expect(await starting).toBeInstanceOf(ComponentConnectionError);
    expect(host.status).toBe('offline');
    await conn.closed;
  });

  it('a stream error after going online: system-shutdown reconnects, not-authorized stops with an error', async () => {
    const logger = new TestLogger();
    const { host, conn } = await startHost({ logger });
    const errors: Error[] = [];
    host.on('error', (e) => errors.push(e));
    conn.send(`<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>${CLOSE}`);
    const second = await fake!.online(1);
    for (let i = 0; i < 100 && host.status !== 'online'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(host.status).toBe('online');
    // The first stream ended with our close tag answering the error.
    expect(conn.received.endsWith(CLOSE)).toBe(true);
    second.send(`<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>${CLOSE}`);
    for (let i = 0; i < 100 && host.status !== 'offline'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(host.status).toBe('offline');
    expect(errors.map((e) => e.name)).toEqual(['ComponentAuthError']);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake!.connections).toHaveLength(2);
  });
});
