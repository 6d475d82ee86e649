/**
 * Interop: a component built with @strand/component connected to a real Prosody 0.12 (Debian
 * package, private config, loopback ports, stopped by PID). An @xmpp/client user on Prosody probes
 * the component's JID and gets the XEP-0318 uptime answer from @strand/presence-probe running in
 * the component; the component's whitespace keepalives are seen on its own socket writes; stop()
 * performs the close handshake; a wrong secret is reported as ComponentAuthError.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ComponentAuthError, createComponentHost, type ComponentHost, type ComponentHostOptions } from '@strand/component';
import presenceProbe from '@strand/presence-probe';
import type { Element } from '@xmpp/xml';
import { COMPONENT, SECRET, until } from './helpers/component.js';
import { prosodyUser, startProsody, xml, type Prosody, type ProsodyUser } from './helpers/prosody.js';

const DELAY = 'urn:xmpp:delay';

describe('@strand/component on Prosody 0.12', () => {
  let prosody: Prosody;
  let alice: ProsodyUser;
  const hosts: ComponentHost[] = [];

  beforeAll(async () => {
    prosody = await startProsody({ components: { [COMPONENT]: SECRET }, users: { alice: 'secret' } });
    alice = await prosodyUser(prosody.c2sPort, 'alice', 'secret', 'desk');
  }, 30_000);
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
  });
  afterAll(async () => {
    await alice?.stop();
    await prosody?.stop();
  });

  async function component(options: Partial<ComponentHostOptions> = {}): Promise<ComponentHost> {
    const host = await createComponentHost({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: COMPONENT,
      password: SECRET,
      plugins: [presenceProbe],
      ...options,
    });
    hosts.push(host);
    return host;
  }

  it("connects; a Prosody user's probe of the component's JID gets available presence with the component's start time", async () => {
    const t0 = Date.now();
    const host = await component();
    await host.start();
    expect(host.status).toBe('online');
    const startedAt = host.serverInfo.startedAt;
    expect(startedAt).toBeGreaterThanOrEqual(t0);
    const mark = alice.inbox.length;
    await alice.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id: 'pr1' }));
    const answer = await alice.waitFor((el: Element) => el.is('presence') && el.attrs.from === COMPONENT && alice.inbox.indexOf(el) >= mark);
    expect(answer.attrs.type).toBeUndefined();
    expect(answer.attrs.to).toBe(alice.jid);
    const delay = answer.getChild('delay', DELAY)!;
    expect(delay.attrs.from).toBe(COMPONENT);
    expect(delay.attrs.stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(delay.attrs.stamp)).toBe(startedAt);
  });

  it("answers disco#info for its JID through Prosody", async () => {
    const host = await component({ config: { identity: { name: 'Strand on Prosody' } } });
    await host.start();
    const result = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: COMPONENT }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    expect(result.getChild('query')!.getChild('identity')!.attrs.name).toBe('Strand on Prosody');
  });

  it("writes whitespace keepalives on its socket while idle, and the stream stays up", async () => {
    const host = await component({ config: { keepalive: { interval: 0.2 } } });
    const writes: { at: number; data: string }[] = [];
    host.xmpp.on('output', (data: string) => writes.push({ at: Date.now(), data }));
    await host.start();
    await new Promise((r) => setTimeout(r, 1000));
    const spaces = writes.filter((w) => w.data === ' ');
    expect(spaces.length).toBeGreaterThanOrEqual(2);
    // Each keepalive follows a write-silence of about one interval.
    for (let i = 1; i < spaces.length; i++) expect(spaces[i]!.at - spaces[i - 1]!.at).toBeGreaterThanOrEqual(150);
    expect(host.status).toBe('online');
    expect(host.stream!.state).toBe('open');
    // Still usable: a probe is answered after the keepalives.
    await alice.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id: 'pr2' }));
    await alice.waitFor((el: Element) => el.is('presence') && el.attrs.from === COMPONENT && el.getChild('delay', DELAY) !== undefined);
  });

  it('stop() performs the close handshake: </stream:stream>, then Prosody\'s close tag, then the socket ends', async () => {
    const host = await component();
    await host.start();
    const io: string[] = [];
    host.xmpp.on('output', (d: string) => io.push(`out:${d}`));
    host.xmpp.on('input', (d: string) => io.push(`in:${d}`));
    const closed = host.stream!.closed;
    await host.stop();
    const info = await closed;
    expect(info).toEqual({ initiator: 'server', handshakeTimedOut: false, endSession: true, reason: 'stop' });
    const out = io.indexOf('out:</stream:stream>');
    const back = io.findIndex((x) => x.startsWith('in:') && x.includes('</stream:stream>'));
    expect(out).toBeGreaterThanOrEqual(0);
    expect(back).toBeGreaterThan(out);
    expect(host.status).toBe('offline');
    // Prosody no longer routes to the component: a probe now bounces.
    await until(async () => {
      const id = `gone${Date.now()}`;
      await alice.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id }));
      await new Promise((r) => setTimeout(r, 100));
      return alice.inbox.some((el) => el.attrs.id === id && el.attrs.type === 'error');
    }, 'Prosody to drop the component route');
  });

  it('a wrong secret: Prosody answers not-authorized and start() rejects with ComponentAuthError', async () => {
    const host = await component({ password: 'not-the-secret' });
    const err = await host.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComponentAuthError);
    expect(err).toMatchObject({ condition: 'not-authorized', domain: COMPONENT });
    expect((err as Error).message).toMatch(/XEP-0114 authentication of component\.localhost failed: <not-authorized\/>/);
    expect(host.status).toBe('offline');
  });
});
