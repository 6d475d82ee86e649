/**
 * Hardening limits of stream management on the fake host (fake time): hibernating sessions per
 * account and per node, failed resumes per source address (sliding minute, IPv6 /64, the host's
 * exemptions), and fault isolation of `<enable/>`/`<resume/>` in a throwing engine subclass.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable, injectFromBase } from 'inversify';
import type { Session } from '@strand/core';
import type { TestHost } from '@strand/testing';
import { SmSessionKey, SmStreamKey, StreamManagerImpl, type SmPhase, type SmSessionState } from '../src/index.js';
import { deliver, enabledClient, next, smHost, SM3 } from './helpers.js';

const quiet = { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 };
const NOT_FOUND = `<failed xmlns="${SM3}"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
const LIMITED = `<failed xmlns="${SM3}"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
const ISE = `<failed xmlns="${SM3}"><internal-server-error xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;

describe('hibernation limits', () => {
  it('maxHibernatingPerUser: the oldest hibernating session of the account ends like an expiry; its queue is spilled', async () => {
    const host = await smHost({ ...quiet, maxHibernatingPerUser: 2 });
    const ids: string[] = [];
    for (const r of ['a', 'b', 'c']) {
      const { client, id } = await enabledClient(host, { resource: r });
      ids.push(id!);
      await deliver(host, `alice@localhost/${r}`, `for-${r}`);
      await client.dropTransport();
      await host.flush();
    }
    expect(host.sessions.endedSessions.map((e) => [e.session.jid.resource, e.reason])).toEqual([['a', 'expired']]);
    // spilled like an expiry: re-routed to the account's other (available, hibernating) resources
    expect(host.get(StreamManagerImpl).hibernatingCount).toBe(2);
    expect(await host.metrics.expose()).toContain('strand_sm_hibernation_evicted_total{scope="user"} 1');
    // the evicted one fails with its final h (for its owner); the others resume
    const c1 = await host.connect({ bind: false });
    c1.clearSent();
    await c1.receive(`<resume xmlns='${SM3}' previd='${ids[0]}' h='0'/>`);
    expect(await next(c1)).toBe(`<failed xmlns="${SM3}" h="0"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    const c2 = await host.connect({ bind: false });
    c2.clearSent();
    await c2.receive(`<resume xmlns='${SM3}' previd='${ids[2]}' h='0'/>`);
    expect((await c2.nextSent()).name).toBe('resumed');
    expect(c2.sent().filter((e) => e.name === 'message').map((e) => e.getChildText('body'))).toEqual(['for-c', 'for-a']);
    expect(host.get(StreamManagerImpl).hibernatingCount).toBe(1);
  });

  it('maxHibernatingTotal: the node-wide oldest hibernating session ends', async () => {
    const host = await smHost({ ...quiet, maxHibernatingTotal: 2 });
    for (const user of ['alice', 'bob', 'carol']) {
      const { client } = await enabledClient(host, { user });
      await client.dropTransport();
      await host.flush();
    }
    expect(host.sessions.endedSessions.map((e) => [e.session.jid.local, e.reason])).toEqual([['alice', 'expired']]);
    expect(await host.metrics.expose()).toContain('strand_sm_hibernation_evicted_total{scope="total"} 1');
  });

  it('sessions that resume or end leave the bookkeeping', async () => {
    const host = await smHost({ ...quiet, maxHibernatingPerUser: 1, resumeTimeout: 60 });
    const { client, id } = await enabledClient(host, { resource: 'a' });
    await client.dropTransport();
    const c = await host.connect({ bind: false });
    await c.receive(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(host.get(StreamManagerImpl).hibernatingCount).toBe(0);
    await c.dropTransport();
    expect(host.get(StreamManagerImpl).hibernatingCount).toBe(1);
    await host.time.advance(61_000);
    expect(host.get(StreamManagerImpl).hibernatingCount).toBe(0);
    // a new one does not evict anything
    const other = await enabledClient(host, { resource: 'b' });
    await other.client.dropTransport();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['expired']);
  });
});

describe('resumeFailuresPerMinute', () => {
  async function limitedHost(exempt: string[] = []) {
    return smHost({ ...quiet, resumeFailuresPerMinute: 2 }, { config: { limits: { exemptAddresses: exempt } } });
  }
  const attempt = async (host: TestHost, remoteAddress: string, previd: string) => {
    const c = await host.connect({ user: 'mallory', bind: false, remoteAddress });
    c.clearSent();
    await c.receive(`<resume xmlns='${SM3}' previd='${previd}' h='0'/>`);
    return next(c);
  };

  it('counts failures per address in a sliding minute; the limited answer is the same for every ID', async () => {
    const host = await limitedHost();
    const { client, id } = await enabledClient(host);
    await client.dropTransport();
    expect(await attempt(host, '203.0.113.5', 'guess-1')).toBe(NOT_FOUND);
    expect(await attempt(host, '203.0.113.5', id!)).toBe(NOT_FOUND); // another user's ID
    expect(await attempt(host, '203.0.113.5', 'guess-2')).toBe(LIMITED);
    expect(await attempt(host, '203.0.113.5', id!)).toBe(LIMITED);
    expect(await attempt(host, '198.51.100.7', 'guess-3')).toBe(NOT_FOUND); // another address
    await host.time.advance(60_001);
    expect(await attempt(host, '203.0.113.5', 'guess-4')).toBe(NOT_FOUND);
  });

  it('IPv6 addresses of one /64 share a count', async () => {
    const host = await limitedHost();
    expect(await attempt(host, '2001:db8:1:2::1', 'x1')).toBe(NOT_FOUND);
    expect(await attempt(host, '2001:db8:1:2::ffff', 'x2')).toBe(NOT_FOUND);
    expect(await attempt(host, '2001:db8:1:2:abcd::9', 'x3')).toBe(LIMITED);
    expect(await attempt(host, '2001:db8:1:3::1', 'x4')).toBe(NOT_FOUND);
  });

  it('successful resumes do not count; exempt addresses (loopback by default) are never limited', async () => {
    const host = await limitedHost(['10.0.0.0/8']);
    for (let i = 0; i < 5; i++) expect(await attempt(host, '10.1.2.3', `g${i}`)).toBe(NOT_FOUND);
    const defaults = await smHost({ ...quiet, resumeFailuresPerMinute: 1 });
    for (let i = 0; i < 3; i++) expect(await attempt(defaults, '127.0.0.1', `g${i}`)).toBe(NOT_FOUND);
    const enabled = await enabledClient(host, { resource: 'r' });
    let client = enabled.client;
    const id = enabled.id;
    for (let i = 0; i < 4; i++) {
      await client.dropTransport();
      const c = await host.connect({ bind: false, remoteAddress: '203.0.113.9' });
      c.clearSent();
      await c.receive(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
      expect((await c.nextSent()).name).toBe('resumed');
      client = c;
    }
  });
});

describe('fault isolation of <enable/> and <resume/>', () => {
  @injectable()
  @injectFromBase()
  class Faulty extends StreamManagerImpl {
    failEnable = false;
    failResumingOnce = false;
    /** Runs inside `<enable/>` after the SM state exists and before `<enabled/>` is written. */
    protected override async drainUntracked(session: Session): Promise<void> {
      if (this.failEnable) {
        this.failEnable = false;
        throw new Error('deliberate');
      }
      return super.drainUntracked(session);
    }
    protected override setPhase(state: SmSessionState, phase: SmPhase): void {
      if (phase === 'resuming' && this.failResumingOnce) {
        this.failResumingOnce = false;
        throw new Error('deliberate');
      }
      super.setPhase(state, phase);
    }
  }
  const faultyHost = () =>
    smHost(quiet, { extra: [new ContainerModule(({ rebind }) => void rebind(StreamManagerImpl).to(Faulty).inSingletonScope())] });

  it('<enable/>: <failed><internal-server-error/> and the stream may enable again (not a second enable)', async () => {
    const host = await faultyHost();
    (host.get(StreamManagerImpl) as Faulty).failEnable = true;
    const client = await host.connect({ available: true });
    client.clearSent();
    await client.receive(`<enable xmlns='${SM3}' resume='true'/>`);
    expect(await next(client)).toBe(ISE);
    expect(client.session!.slots.get(SmSessionKey)).toBeUndefined(); // nothing half-enabled is left
    expect(client.stream.slots.get(SmStreamKey)).toBeUndefined();
    await client.receive(`<enable xmlns='${SM3}' resume='true'/>`);
    expect(client.sent().map((e) => e.name)).toEqual(['failed', 'enabled']);
    expect(client.stream.state).toBe('open');
    expect(host.logs.at('error').some((e) => e.data?.plugin === '@strand/stream-management')).toBe(true);
  });

  it('<resume/> failing mid-way: <failed><internal-server-error/>, the session keeps hibernating and resumes next time', async () => {
    const host = await faultyHost();
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', 'kept');
    await client.dropTransport();
    (host.get(StreamManagerImpl) as Faulty).failResumingOnce = true;
    const c1 = await host.connect({ bind: false });
    c1.clearSent();
    await c1.receive(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(await next(c1)).toBe(ISE);
    expect(host.sessions.getSync('alice@localhost/r1')!.state).toBe('detached');
    const c2 = await host.connect({ bind: false });
    c2.clearSent();
    await c2.receive(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(c2.sent()[0]!.name).toBe('resumed');
    expect(c2.sent().some((e) => e.getChildText('body') === 'kept')).toBe(true);
    expect(await host.metrics.expose()).toContain('strand_sm_resume_failed_total{reason="internal-error"} 1');
  });
});
