/**
 * XEP-0304 negotiation against the fake host: the feature, valid and invalid intervals with their
 * exact errors, renegotiation, transports and addressing.
 */
import { describe, expect, it } from '@jest/globals';
import { NS as CORE_NS, Priority } from '@strand/core';
import { isCloseTag, streamErrorCondition } from '@strand/testing';
import { KeepaliveFeatureImpl, KeepaliveInterval } from '../src/index.js';
import { errorOf, hostWith, metric, negotiate, negotiation } from './helpers.js';

const FEATURE = '<keepalive xmlns="urn:xmpp:keepalive:0"><interval min="60" max="300"/></keepalive>';

describe('stream feature (XEP-0304 §3.1)', () => {
  it('is offered post-auth, byte for byte as the spec example, with the configured range', async () => {
    const host = await hostWith();
    const c = await host.connect();
    expect(c.features('post-auth').map((e) => e.toString())).toEqual([FEATURE]);
    const h2 = await hostWith({ minInterval: 1, maxInterval: 5 });
    const c2 = await h2.connect();
    expect(c2.features('post-auth').map((e) => e.toString())).toEqual([
      '<keepalive xmlns="urn:xmpp:keepalive:0"><interval min="1" max="5"/></keepalive>',
    ]);
  });

  it('is not offered before authentication', async () => {
    const host = await hostWith();
    const c = await host.connect({ authenticate: false });
    expect(c.features('pre-auth').map(String)).toEqual([]);
    expect(c.features('post-auth').map(String)).toEqual([]); // the provider also checks the stream
    const bound = await host.connect({ user: 'bob' });
    expect(bound.features('pre-auth').map(String)).toEqual([]);
  });

  it('is not offered on WebSocket (RFC 7395 forbids whitespace between frames)', async () => {
    const host = await hostWith();
    const c = await host.connect({ transport: 'websocket' });
    expect(c.stream.supportsWhitespaceKeepalive).toBe(false);
    expect(c.features('post-auth').map(String)).toEqual([]);
  });

  it('sits at the core KEEPALIVE feature priority (after bind and stream management)', async () => {
    const host = await hostWith();
    expect(host.get(KeepaliveFeatureImpl).priority).toBe(Priority.feature.KEEPALIVE);
    expect(Priority.feature.KEEPALIVE).toBeLessThan(Priority.feature.STREAM_MANAGEMENT);
    expect(Priority.feature.KEEPALIVE).toBeLessThan(Priority.feature.BIND);
  });

  it('is listed in the server disco#info features', async () => {
    const host = await hostWith();
    const c = await host.connect();
    await c.receive(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const vars = (await c.nextSent()).getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    expect(vars).toContain(CORE_NS.KEEPALIVE);
  });
});

describe('negotiation (XEP-0304 §3.2)', () => {
  it.each([60, 61, 120, 299, 300])('accepts %d (inside [min, max], inclusive) with an empty result', async (n) => {
    const host = await hostWith();
    const c = await host.connect();
    const reply = await negotiate(c, n);
    expect(reply.toString()).toBe('<iq type="result" id="ka1" to="alice@localhost/r1"/>');
    expect(c.session!.slots.get(KeepaliveInterval)).toBe(n);
  });

  it('accepts the lexical variants of unsignedShort: whitespace, leading zeros, a plus sign', async () => {
    const host = await hostWith();
    const c = await host.connect();
    for (const [text, n] of [[' 90 ', 90], ['0120', 120], ['+150', 150]] as const) {
      expect((await negotiate(c, text)).attrs.type).toBe('result');
      expect(c.session!.slots.get(KeepaliveInterval)).toBe(n);
    }
  });

  it("accepts the spec example's addressing (to the domain, from the full JID)", async () => {
    const host = await hostWith();
    const c = await host.connect();
    await c.receive(negotiation(60, 'p03ns61g', " to='localhost' from='alice@localhost/r1'"));
    expect((await c.nextSent()).toString()).toBe(
      '<iq type="result" id="p03ns61g" to="alice@localhost/r1" from="localhost"/>',
    );
  });

  // Every invalid value and its error.
  it.each([
    ['0', 'zero is invalid'],
    ['-1', 'negative'],
    ['-60', 'negative in range magnitude'],
    ['-0', 'negative zero'],
    ['59', 'below min'],
    ['1', 'far below min'],
    ['301', 'above max'],
    ['65535', 'largest positiveShort, above max'],
    ['65536', 'beyond positiveShort'],
    ['99999999999999999999', 'huge'],
    ['1.5', 'non-integer'],
    ['60.5', 'non-integer in range'],
    ['60.0', 'integer value, non-integer lexical form'],
    ['.5', 'fraction only'],
  ])('answers %j (%s) with not-acceptable, type cancel, as the spec example', async (value) => {
    const host = await hostWith();
    const c = await host.connect();
    const reply = await negotiate(c, value, 'bad1');
    expect(reply.attrs).toMatchObject({ type: 'error', id: 'bad1', to: 'alice@localhost/r1' });
    expect(errorOf(reply)).toEqual({ type: 'cancel', condition: 'not-acceptable' });
    expect(reply.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBe(
      'the interval must be an integer number of seconds from 60 to 300',
    );
    expect(reply.getChild('keepalive')).toBeUndefined(); // iq errors omit the payload
    expect(c.session!.slots.has(KeepaliveInterval)).toBe(false);
  });

  it.each([
    ['no <interval/>', `<keepalive xmlns='urn:xmpp:keepalive:0'/>`],
    ['an empty <interval/>', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval/></keepalive>`],
    ['a blank <interval/>', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval> </interval></keepalive>`],
    ['the feature echoed back', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval min='60' max='300'/></keepalive>`],
    ['letters', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval>sixty</interval></keepalive>`],
    ['an exponent', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval>6e1</interval></keepalive>`],
    ['hex', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval>0x3C</interval></keepalive>`],
    ['two intervals', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval>60</interval><interval>90</interval></keepalive>`],
    ['markup inside', `<keepalive xmlns='urn:xmpp:keepalive:0'><interval><b>60</b></interval></keepalive>`],
  ])('answers %s with bad-request (modify)', async (_name, payload) => {
    const host = await hostWith();
    const c = await host.connect();
    await c.receive(`<iq type='set' id='br'>${payload}</iq>`);
    const reply = await c.nextSent();
    expect(reply.attrs).toMatchObject({ type: 'error', id: 'br' });
    expect(errorOf(reply)).toEqual({ type: 'modify', condition: 'bad-request' });
    expect(c.session!.slots.has(KeepaliveInterval)).toBe(false);
  });

  it('renegotiation: the last accepted value wins; a rejected one leaves the agreement in force', async () => {
    const host = await hostWith();
    const c = await host.connect();
    expect((await negotiate(c, 60, 'a')).attrs.type).toBe('result');
    expect((await negotiate(c, 240, 'b')).attrs.type).toBe('result');
    expect(c.session!.slots.get(KeepaliveInterval)).toBe(240);
    expect(errorOf(await negotiate(c, 5, 'c')).condition).toBe('not-acceptable');
    expect(c.session!.slots.get(KeepaliveInterval)).toBe(240);
    expect((await negotiate(c, 90, 'd')).attrs.type).toBe('result');
    expect(c.session!.slots.get(KeepaliveInterval)).toBe(90);
  });

  it('counts outcomes in strand_keepalive_negotiations_total', async () => {
    const host = await hostWith();
    const c = await host.connect();
    await negotiate(c, 60);
    await negotiate(c, 0);
    await negotiate(c, 'x');
    expect(await metric(host, 'strand_keepalive_negotiations_total', 'result="accepted"')).toBe(1);
    expect(await metric(host, 'strand_keepalive_negotiations_total', 'result="not-acceptable"')).toBe(1);
    expect(await metric(host, 'strand_keepalive_negotiations_total', 'result="bad-request"')).toBe(1);
  });

  it('is refused on WebSocket, where the feature is not offered (service-unavailable)', async () => {
    const host = await hostWith();
    const c = await host.connect({ transport: 'websocket' });
    const reply = await negotiate(c, 60);
    expect(errorOf(reply)).toEqual({ type: 'cancel', condition: 'service-unavailable' });
    expect(c.session!.slots.has(KeepaliveInterval)).toBe(false);
  });

  it('only iq set to the server: a get, or a set to the account, is not ours (service-unavailable)', async () => {
    const host = await hostWith();
    const c = await host.connect();
    await c.receive(`<iq type='get' id='g'><keepalive xmlns='urn:xmpp:keepalive:0'><interval>60</interval></keepalive></iq>`);
    expect(errorOf(await c.nextSent()).condition).toBe('service-unavailable');
    await c.receive(negotiation(60, 'acct', " to='alice@localhost'"));
    expect(errorOf(await c.nextSent()).condition).toBe('service-unavailable');
    expect(c.session!.slots.has(KeepaliveInterval)).toBe(false);
  });

  it('before bind the host answers not-allowed and nothing is negotiated (as the real host: test/keepalive.test.ts)', async () => {
    const host = await hostWith();
    const c = await host.connect({ bind: false });
    await c.receive(negotiation(60));
    const sent = c.sent();
    expect(sent).toHaveLength(1);
    expect(errorOf(sent[0]!)).toMatchObject({ condition: 'not-allowed', type: 'cancel' });
    expect(c.stream.state).toBe('open');
  });
});
