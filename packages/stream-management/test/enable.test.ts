import { describe, expect, it } from '@jest/globals';
import { SmIdRegistry, SmIdRegistryImpl } from '../src/index.js';
import { closeTag, enabledClient, next, nothingMore, smHost, smState } from './helpers.js';

describe('stream feature (XEP-0198 §2)', () => {
  it('offers sm:3 and sm:2 after authentication only, on c2s streams', async () => {
    const host = await smHost();
    const pre = await host.connect({ authenticate: false });
    expect(pre.features('pre-auth').map(String)).toEqual([]);
    expect(pre.features('post-auth').map(String)).toEqual([]);
    const auth = await host.connect({ bind: false });
    expect(auth.features('pre-auth').map(String)).toEqual([]);
    expect(auth.features('post-auth').map(String)).toEqual([`<sm xmlns="urn:xmpp:sm:3"/>`, `<sm xmlns="urn:xmpp:sm:2"/>`]);
    const comp = await host.connectComponent({ domain: 'c.localhost' });
    expect(comp.features('post-auth')).toEqual([]);
  });

  it('offers the sm:1 feature with max and stanzas only with legacyDraftSm1', async () => {
    const host = await smHost({ legacyDraftSm1: true, resumeTimeout: 600, ackRequestEvery: 10 });
    const c = await host.connect({ bind: false });
    expect(c.features('post-auth').map(String)).toEqual([
      `<sm xmlns="urn:xmpp:sm:3"/>`,
      `<sm xmlns="urn:xmpp:sm:2"/>`,
      `<sm xmlns="urn:xmpp:sm:1" max="600" stanzas="10"><optional/></sm>`,
    ]);
  });

  it('is placed by Priority.feature.STREAM_MANAGEMENT', async () => {
    const host = await smHost();
    const provider = host.hooks.streamFeatureProviders.find((p) => p.constructor.name === 'SmFeatureImpl');
    expect(provider?.priority).toBe(400);
  });
});

describe('<enable/> (XEP-0198 §3)', () => {
  it('answers <enabled id resume max/> with a fresh ≥128-bit SM-ID when resumption is asked', async () => {
    const host = await smHost();
    const { client, id } = await enabledClient(host);
    expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(String(client.sent()[0])).toBe(`<enabled xmlns="urn:xmpp:sm:3" id="${id}" resume="true" max="300"/>`);
    expect(smState(client).phase).toBe('attached');
    await nothingMore(client);
  });

  it("honours the client's max up to maxResumeTimeout", async () => {
    const host = await smHost({ resumeTimeout: 300, maxResumeTimeout: 900 });
    const a = await enabledClient(host, { resource: 'a', max: 60 });
    expect(a.client.sent()[0]!.attrs.max).toBe('60');
    expect(smState(a.client).timeoutSec).toBe(60);
    const b = await enabledClient(host, { resource: 'b', max: 5000 });
    expect(b.client.sent()[0]!.attrs.max).toBe('900');
    const c = await enabledClient(host, { resource: 'c', max: 0 });
    expect(c.client.sent()[0]!.attrs.max).toBe('300');
  });

  it('includes location only when configured, and only with resumption', async () => {
    const host = await smHost({ location: '[2001:41D0:1:A49b::1]:9222' });
    const a = await enabledClient(host, { resource: 'a' });
    expect(String(a.client.sent()[0])).toBe(
      `<enabled xmlns="urn:xmpp:sm:3" id="${a.id}" resume="true" max="300" location="[2001:41D0:1:A49b::1]:9222"/>`,
    );
    const b = await enabledClient(host, { resource: 'b', resume: false });
    expect(String(b.client.sent()[0])).toBe(`<enabled xmlns="urn:xmpp:sm:3"/>`);
  });

  it('without resume: plain <enabled/>, no SM-ID registered', async () => {
    const host = await smHost();
    const { client, id } = await enabledClient(host, { resume: false });
    expect(id).toBeUndefined();
    expect(String(client.sent()[0])).toBe(`<enabled xmlns="urn:xmpp:sm:3"/>`);
    expect(host.get(SmIdRegistryImpl).size.live).toBe(0);
  });

  it('answers sm:2 in sm:2', async () => {
    const host = await smHost();
    const { client, id } = await enabledClient(host, { ns: 'urn:xmpp:sm:2' });
    expect(String(client.sent()[0])).toBe(`<enabled xmlns="urn:xmpp:sm:2" id="${id}" resume="true" max="300"/>`);
  });

  it('before bind → <failed><unexpected-request/></failed>, stream stays open', async () => {
    const host = await smHost();
    const c = await host.connect({ bind: false });
    c.clearSent();
    await c.receive(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    expect(await next(c)).toBe(
      `<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    await nothingMore(c);
    expect(c.stream.state).toBe('open');
    // binding and enabling afterwards works
    await c.bind();
    await c.receive(`<enable xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(c)).toBe(`<enabled xmlns="urn:xmpp:sm:3"/>`);
  });

  it('before authentication → <failed><unexpected-request/></failed>', async () => {
    const host = await smHost();
    const c = await host.connect({ authenticate: false });
    c.clearSent();
    await c.receive(`<enable xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(c)).toBe(
      `<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
  });

  it('an <enable/> read after our close tag (the stream is closing) enables nothing', async () => {
    const host = await smHost();
    const c = await host.connect();
    void c.stream.close({ reason: 'idle' });
    await host.time.flush();
    await c.receive(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    expect(c.session?.slots.has((await import('../src/index.js')).SmSessionKey)).toBe(false);
    expect(host.get(SmIdRegistryImpl).size.live).toBe(0);
  });

  it('malformed attributes → <failed><bad-request/></failed>', async () => {
    const host = await smHost();
    const c = await host.connect();
    c.clearSent();
    await c.receive(`<enable xmlns='urn:xmpp:sm:3' resume='yes'/>`);
    expect(await next(c)).toBe(`<failed xmlns="urn:xmpp:sm:3"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    await c.receive(`<enable xmlns='urn:xmpp:sm:3' max='-5'/>`);
    expect(await next(c)).toBe(`<failed xmlns="urn:xmpp:sm:3"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(c.session?.slots.has((await import('../src/index.js')).SmSessionKey)).toBe(false);
  });

  it('a second <enable/>: <failed><unexpected-request/></failed>, then policy-violation and the session ends', async () => {
    const host = await smHost();
    const { client } = await enabledClient(host);
    await client.receive(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    expect(await next(client)).toBe(
      `<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    // onClosing: final <a h/> (no stanza handled yet: h=0)
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="0"/>`);
    expect(await next(client)).toBe(
      `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">Stream management is already enabled on this stream</text></stream:error>`,
    );
    expect(closeTag(await client.nextSent())).toBe(true);
    await client.closeFromPeer();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
  });

  it('never reuses an SM-ID (collision with a live or retained ID is regenerated)', async () => {
    const host = await smHost();
    const reg = host.get(SmIdRegistryImpl);
    expect(host.get(SmIdRegistry)).toBe(reg);
    const ids = ['AAAA', 'AAAA', 'BBBB', 'AAAA', 'BBBB', 'CCCC'];
    reg.generate = () => ids.shift()!;
    const a = await enabledClient(host, { resource: 'a' });
    const b = await enabledClient(host, { resource: 'b' });
    expect([a.id, b.id]).toEqual(['AAAA', 'BBBB']);
    await a.client.closeFromPeer(); // AAAA retained now
    const c = await enabledClient(host, { resource: 'c' });
    expect(c.id).toBe('CCCC');
  });
});
