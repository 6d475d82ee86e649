/**
 * The `urn:xmpp:sm:1` profile against every example of XEP-0198 v0.7 (2009-03-30), quoted verbatim.
 */
import { describe, expect, it } from '@jest/globals';
import { parseXml } from '@strand/testing';
import {
  SM_NS,
  failedElement,
  parseEnable,
  parseResume,
  parseSm1Ack,
  parseSm1Request,
  resumedElement,
  sm1AckElement,
  sm1FeatureElement,
  sm1RequestElement,
  enabledElement,
  SmStreamKey,
} from '../src/index.js';
import { bodies, deliver, enabledClient, manager, next, nothingMore, reconnect, smHost, smState, str } from './helpers.js';

const legacy = { legacyDraftSm1: true, ackRequestEvery: 1000, ackRequestQuietMs: 60_000 };

/** Every XML example of the draft, verbatim (whitespace between elements removed). */
const DRAFT = {
  feature: `<sm xmlns='urn:xmpp:sm:1'><optional/></sm>`,
  featureStanzas: `<sm xmlns='urn:xmpp:sm:1' stanzas='10'><optional/></sm>`,
  featureResumption: `<sm xmlns='urn:xmpp:sm:1' max='600' stanzas='10'><optional/></sm>`,
  enable: `<enable xmlns='urn:xmpp:sm:1'/>`,
  failedBeforeBind: `<failed xmlns='urn:xmpp:sm:1'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`,
  enabledResume: `<enabled xmlns='urn:xmpp:sm:1' resume='true'/>`,
  messageWithRequest: [
    `<message from='laurence@example.net/churchyard' to='juliet@example.com' xml:lang='en'><body>I'll send a friar with speed, to Mantua, with my letters to thy lord.</body></message>`,
    `<r xmlns='urn:xmpp:sm:1' u='1'/>`,
  ],
  ack: `<a xmlns='urn:xmpp:sm:1' h='1'/>`,
  enableResume: `<enable xmlns='urn:xmpp:sm:1' resume='true'/>`,
  enabledWithId: `<enabled xmlns='urn:xmpp:sm:1' id='some-long-sm-id' resume='true'/>`,
  resume: `<resume xmlns='urn:xmpp:sm:1' previd='some-long-sm-id' h='foo'/>`,
  resumed: `<resumed xmlns='urn:xmpp:sm:1' previd='some-long-sm-id'/>`,
  failedError: `<failed xmlns='urn:xmpp:sm:1'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`,
  scenario: {
    enable: `<enable xmlns='urn:xmpp:sm:1'/>`,
    enabled: `<enabled xmlns='urn:xmpp:sm:1'/>`,
    client1: [`<iq id='ls72g593' type='get'><query xmlns='jabber:iq:roster'/></iq>`, `<r xmlns='urn:xmpp:sm:1' u='1'/>`],
    server1: `<a xmlns='urn:xmpp:sm:1' u='1'/>`,
    client2: [`<presence/>`, `<r xmlns='urn:xmpp:sm:1' u='2'/>`],
    server2: `<a xmlns='urn:xmpp:sm:1' u='2'/>`,
    client3: [`<message to='juliet@capulet.lit'><body>ciao!</body></message>`, `<r xmlns='urn:xmpp:sm:1' u='3'/>`],
    server3: `<a xmlns='urn:xmpp:sm:1' u='3'/>`,
  },
};

const el = (s: string) => parseXml(s);

describe('sm:1 elements against the draft examples', () => {
  it('builds the feature as in "Stream features for resumption"', () => {
    expect(str(sm1FeatureElement({ maxSeconds: 600, stanzas: 10 }))).toBe(str(el(DRAFT.featureResumption)));
    expect(str(sm1FeatureElement({ stanzas: 10 }))).toBe(str(el(DRAFT.featureStanzas)));
    expect(str(sm1FeatureElement())).toBe(str(el(DRAFT.feature)));
  });

  it('parses and builds enable/enabled/failed/resumed as in the examples', () => {
    expect(parseEnable(el(DRAFT.enable), SM_NS.SM_1)).toEqual({ ok: true, value: { resume: false, maxSeconds: undefined } });
    expect(parseEnable(el(DRAFT.enableResume), SM_NS.SM_1)).toEqual({ ok: true, value: { resume: true, maxSeconds: undefined } });
    expect(str(enabledElement(SM_NS.SM_1, { id: 'some-long-sm-id', resume: true }))).toBe(str(el(DRAFT.enabledWithId)));
    expect(str(enabledElement(SM_NS.SM_1))).toBe(str(el(DRAFT.scenario.enabled)));
    expect(str(failedElement(SM_NS.SM_1, 'unexpected-request'))).toBe(str(el(DRAFT.failedBeforeBind)));
    expect(str(failedElement(SM_NS.SM_1, 'unexpected-request'))).toBe(str(el(DRAFT.failedError)));
    expect(str(resumedElement(SM_NS.SM_1, 'some-long-sm-id', undefined))).toBe(str(el(DRAFT.resumed)));
    expect(el(DRAFT.enabledResume).attrs.resume).toBe('true');
  });

  it('parses r and a: u required on <r/>; <a/> with h, with u only (the examples), or both', () => {
    expect(parseSm1Request(el(DRAFT.messageWithRequest[1]!))).toEqual({ ok: true, value: { u: 1, h: undefined } });
    expect(parseSm1Request(el(`<r xmlns='urn:xmpp:sm:1' u='0' h='4'/>`))).toEqual({ ok: true, value: { u: 0, h: 4 } });
    expect(parseSm1Request(el(`<r xmlns='urn:xmpp:sm:1'/>`)).ok).toBe(false);
    expect(parseSm1Request(el(`<r xmlns='urn:xmpp:sm:1' u='-1'/>`)).ok).toBe(false);
    expect(parseSm1Ack(el(DRAFT.ack))).toEqual({ ok: true, value: { h: 1, u: undefined } });
    for (const s of [DRAFT.scenario.server1, DRAFT.scenario.server2, DRAFT.scenario.server3]) {
      expect(parseSm1Ack(el(s))).toEqual({ ok: true, value: { h: undefined, u: Number(el(s).attrs.u) } });
    }
    expect(parseSm1Ack(el(`<a xmlns='urn:xmpp:sm:1'/>`)).ok).toBe(false);
    expect(parseSm1Ack(el(`<a xmlns='urn:xmpp:sm:1' h='x'/>`)).ok).toBe(false);
    expect(str(sm1AckElement(1))).toBe(str(el(DRAFT.ack)));
    expect(str(sm1RequestElement(1))).toBe(str(el(DRAFT.messageWithRequest[1]!)));
    expect(str(sm1RequestElement(5, 3))).toBe(`<r xmlns="urn:xmpp:sm:1" u="5" h="3"/>`);
  });

  it("the resume example's h='foo' is a placeholder: rejected as not a number; h may be absent", () => {
    expect(parseResume(el(DRAFT.resume), SM_NS.SM_1).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:1' previd='some-long-sm-id'/>`), SM_NS.SM_1)).toEqual({
      ok: true,
      value: { previd: 'some-long-sm-id', h: undefined },
    });
  });
});

describe('sm:1 on the wire', () => {
  it('is refused unless legacyDraftSm1 is set', async () => {
    const host = await smHost();
    const c = await host.connect();
    c.clearSent();
    await c.receive(DRAFT.enable);
    expect((await c.nextSent()).getChild('unsupported-stanza-type')).toBeDefined();
  });

  it('runs the draft\'s "Basic Acking" scenario (answers carry h, as the text requires)', async () => {
    const host = await smHost(legacy);
    const c = await host.connect();
    c.clearSent();
    await c.receive(DRAFT.scenario.enable);
    expect(await next(c)).toBe(str(el(DRAFT.scenario.enabled)));
    await c.receive(DRAFT.scenario.client1.join(''));
    expect((await c.nextSent()).attrs.id).toBe('ls72g593'); // the answer to the roster get
    expect(await next(c)).toBe(`<a xmlns="urn:xmpp:sm:1" h="1"/>`);
    await c.receive(DRAFT.scenario.client2.join(''));
    expect(await next(c)).toBe(`<a xmlns="urn:xmpp:sm:1" h="2"/>`);
    await c.receive(DRAFT.scenario.client3.join(''));
    expect((await c.nextSent()).attrs.type).toBe('error'); // no s2s in the test host: remote-server-not-found
    expect(await next(c)).toBe(`<a xmlns="urn:xmpp:sm:1" h="3"/>`);
    await nothingMore(c);
    // the draft's server-side <a u='N'/> (no h), sent by a client, is a request: answered, acks nothing
    expect(smState(c).queue.length).toBe(2);
    await c.receive(DRAFT.scenario.server3);
    expect(await next(c)).toBe(`<a xmlns="urn:xmpp:sm:1" h="3"/>`);
    expect(smState(c).queue.length).toBe(2);
    // the client's <a h/> acknowledges our stanzas up to our u
    await c.receive(DRAFT.ack);
    expect(smState(c).queue.length).toBe(1);
    await c.receive(`<a xmlns='urn:xmpp:sm:1' h='2'/>`);
    expect(smState(c).queue.length).toBe(0);
  });

  it('accepts u starting at 0 (the algorithm) as well as 1 (the examples)', async () => {
    const host = await smHost(legacy);
    const { client, id } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    expect(str(client.sent()[0]!)).toBe(`<enabled xmlns="urn:xmpp:sm:1" id="${id}" resume="true"/>`);
    await client.receive(`<presence/><r xmlns='urn:xmpp:sm:1' u='0'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:1" h="0"/>`);
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:1' previd='${id}'/>`);
    expect(await next(c2)).toBe(`<resumed xmlns="urn:xmpp:sm:1" h="0" previd="${id}"/>`);
  });

  it('numbers our requests with the outbound count; <a h/> and <r u h/> acknowledge; <resume h/> retransmits the rest', async () => {
    const host = await smHost({ ...legacy, ackRequestEvery: 3 });
    const { client, id } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    client.clearSent();
    for (const b of ['1', '2', '3']) await deliver(host, 'alice@localhost/r1', b);
    expect(str(client.sent().at(-1)!)).toBe(`<r xmlns="urn:xmpp:sm:1" u="3"/>`);
    await client.receive(`<r xmlns='urn:xmpp:sm:1' u='1' h='2'/>`); // answers with h, requests with u
    expect(smState(client).queue.length).toBe(1);
    expect(str(client.sent().at(-1)!)).toBe(`<a xmlns="urn:xmpp:sm:1" h="1"/>`);
    for (const b of ['4', '5']) await deliver(host, 'alice@localhost/r1', b);
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:1' previd='${id}' h='3'/>`);
    expect(await next(c2)).toBe(`<resumed xmlns="urn:xmpp:sm:1" h="1" previd="${id}"/>`);
    expect(bodies(c2.sentStanzas())).toEqual(['4', '5']);
    // without h, every unacked stanza is retransmitted
    await c2.dropTransport();
    const c3 = await reconnect(host);
    await c3.receive(`<resume xmlns='urn:xmpp:sm:1' previd='${id}'/>`);
    expect(await next(c3)).toBe(`<resumed xmlns="urn:xmpp:sm:1" h="1" previd="${id}"/>`);
    expect(bodies(c3.sentStanzas())).toEqual(['4', '5']);
  });

  it('omits h from <resumed/> when the client never sent a u', async () => {
    const host = await smHost(legacy);
    const { client, id } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:1' previd='${id}'/>`);
    expect(await next(c2)).toBe(`<resumed xmlns="urn:xmpp:sm:1" previd="${id}"/>`);
  });

  it("never repeats its own u: a read timeout with nothing new to number passes to keepalive", async () => {
    const host = await smHost(legacy, { config: { timeouts: { read: 60 } } });
    const { client } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    client.clearSent();
    await host.time.advance(60_000);
    expect(client.sent().map(str)).toEqual([`<r xmlns="urn:xmpp:sm:1" u="0"/>`]);
    await client.receive(`<a xmlns='urn:xmpp:sm:1' h='0'/>`);
    await host.time.advance(60_000);
    expect(client.sent().map(str)).toEqual([`<r xmlns="urn:xmpp:sm:1" u="0"/>`]);
    await deliver(host, 'alice@localhost/r1', 'x');
    await host.time.advance(60_000);
    expect(str(client.sent().at(-1)!)).toBe(`<r xmlns="urn:xmpp:sm:1" u="1"/>`);
  });

  it('echoes u only once every stanza received before the request has been handled', async () => {
    const host = await smHost(legacy);
    const { client } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    client.clearSent();
    const m = manager(host);
    let release!: () => void;
    const slow = m.countInbound(client.stream, () => new Promise<void>((r) => (release = r)));
    await m.handleNonza(client.stream.context(), el(`<r xmlns='urn:xmpp:sm:1' u='7'/>`), SM_NS.SM_1);
    expect(client.sent()).toEqual([]);
    expect(client.stream.slots.get(SmStreamKey)!.pendingU).toEqual([{ u: 7, threshold: 1 }]);
    release();
    await slow;
    expect(client.sent().map(str)).toEqual([`<a xmlns="urn:xmpp:sm:1" h="7"/>`]);
  });

  it('an h beyond our u → handled-count-too-high (sm:3 application condition)', async () => {
    const host = await smHost(legacy);
    const { client } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    await deliver(host, 'alice@localhost/r1', '1');
    client.clearSent();
    await client.receive(`<a xmlns='urn:xmpp:sm:1' h='9'/>`);
    const err = client.sent().find((e) => e.name === 'stream:error')!;
    expect(str(err.getChild('handled-count-too-high')!)).toBe(`<handled-count-too-high xmlns="urn:xmpp:sm:3" h="9" send-count="1"/>`);
  });

  it('after expiry <failed/> carries no h (the sm:1 schema has none)', async () => {
    const host = await smHost({ ...legacy, resumeTimeout: 10 });
    const { client, id } = await enabledClient(host, { ns: 'urn:xmpp:sm:1' });
    await client.receive(`<presence/><r xmlns='urn:xmpp:sm:1' u='1'/>`);
    await client.dropTransport();
    await host.time.advance(10_000);
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:1' previd='${id}'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:1"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
  });
});
