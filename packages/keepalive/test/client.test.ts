/**
 * The @xmpp/client helper, against a structural fake client and against the fake host.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { Element } from '@strand/core';
import { FakeTime, parseXml, stanzaErrorCondition, type TestClient } from '@strand/testing';
import {
  negotiateKeepalive,
  startWhitespaceKeepalive,
  watchKeepaliveFeature,
  type ClientTimers,
  type KeepaliveXmppClient,
} from '../src/index.js';
import { hostWith } from './helpers.js';

/** Client timers on a FakeTime. */
function fakeTimers(time: FakeTime): ClientTimers {
  return {
    now: () => time.now(),
    setTimeout: (fn, ms) => time.setTimeout(fn, ms),
    clearTimeout: (h) => (h as { cancel(): void }).cancel(),
  };
}

/** A structural stand-in for an @xmpp/client Client. */
class FakeXmpp extends EventEmitter implements KeepaliveXmppClient {
  status = 'online';
  readonly requests: Element[] = [];
  readonly written: string[] = [];
  featureHandlers: Array<(ctx: unknown, next: () => unknown, feature: Element) => unknown> = [];
  reply: (iq: Element) => Promise<Element> = async (iq) => parseXml(`<iq type='result' id='${iq.attrs.id}'/>`);
  iqCaller = {
    request: async (stanza: Element, _timeout?: number): Promise<Element> => {
      stanza.attrs.id ??= `id${this.requests.length + 1}`;
      this.requests.push(stanza);
      this.emit('send', stanza);
      return this.reply(stanza);
    },
  };
  streamFeatures = {
    use: (_name: string, _ns: string, handler: (ctx: unknown, next: () => unknown, feature: Element) => unknown) => {
      this.featureHandlers.push(handler);
    },
  };
  async write(data: string): Promise<void> {
    this.written.push(data);
  }
  /** Simulates `xmpp.send(el)`. */
  sendElement(el: Element): void {
    this.emit('send', el);
  }
}

describe('client helper', () => {
  it('negotiateKeepalive sends the XEP-0304 §3.2 iq to the server and starts our whitespace sender', async () => {
    const time = new FakeTime();
    const xmpp = new FakeXmpp();
    const ka = await negotiateKeepalive(xmpp, 30, { timers: fakeTimers(time) });
    expect(xmpp.requests.map(String)).toEqual([
      '<iq type="set" id="id1"><keepalive xmlns="urn:xmpp:keepalive:0"><interval>30</interval></keepalive></iq>',
    ]);
    expect(ka.interval).toBe(30);
    await time.advance(29_999);
    expect(xmpp.written).toEqual([]);
    await time.advance(1);
    expect(xmpp.written).toEqual([' ']);
    ka.stop();
    await time.advance(120_000);
    expect(xmpp.written).toEqual([' ']);
    expect(xmpp.listenerCount('send')).toBe(0);
  });

  it('the sender writes only after `seconds` of client write silence (sent elements reset it), only while online', async () => {
    const time = new FakeTime();
    const xmpp = new FakeXmpp();
    const sender = startWhitespaceKeepalive(xmpp, 10, fakeTimers(time));
    await time.advance(8_000);
    xmpp.sendElement(parseXml('<presence/>'));
    await time.advance(9_999);
    expect(sender.sent).toBe(0);
    await time.advance(1);
    expect(sender.sent).toBe(1);
    xmpp.status = 'disconnect';
    await time.advance(30_000);
    expect(sender.sent).toBe(1);
    xmpp.status = 'online';
    await time.advance(10_000);
    expect(sender.sent).toBe(2);
    expect(time.pendingTimers()).toBe(1); // one timer, re-armed only when it fires
    sender.stop();
    expect(time.pendingTimers()).toBe(0);
  });

  it('refuses intervals that are not positive integers before sending anything', async () => {
    const xmpp = new FakeXmpp();
    await expect(negotiateKeepalive(xmpp, 0)).rejects.toThrow(RangeError);
    await expect(negotiateKeepalive(xmpp, 1.5)).rejects.toThrow(RangeError);
    expect(() => startWhitespaceKeepalive(xmpp, -1)).toThrow(RangeError);
    expect(xmpp.requests).toEqual([]);
  });

  it('propagates a refusal and starts no sender', async () => {
    const xmpp = new FakeXmpp();
    xmpp.reply = async () => {
      throw Object.assign(new Error('not-acceptable'), { condition: 'not-acceptable' });
    };
    await expect(negotiateKeepalive(xmpp, 5)).rejects.toMatchObject({ condition: 'not-acceptable' });
    expect(xmpp.listenerCount('send')).toBe(0);
  });

  it('watchKeepaliveFeature records the advertised range (both forms) and passes the features on', async () => {
    const xmpp = new FakeXmpp();
    const watch = watchKeepaliveFeature(xmpp);
    expect(watch.range).toBeUndefined();
    let nexts = 0;
    const next = () => ++nexts;
    xmpp.featureHandlers[0]!({}, next, parseXml(`<keepalive xmlns='urn:xmpp:keepalive:0'><interval min='60' max='300'/></keepalive>`));
    expect(watch.range).toEqual({ min: 60, max: 300 });
    xmpp.featureHandlers[0]!({}, next, parseXml(`<keepalive xmlns='urn:xmpp:keepalive:0' min='5' max='9'/>`));
    expect(watch.range).toEqual({ min: 5, max: 9 });
    expect(nexts).toBe(2);
    expect(() => watchKeepaliveFeature({ ...xmpp, streamFeatures: undefined } as unknown as KeepaliveXmppClient)).toThrow();
  });

  describe('against the fake host', () => {
    /** Connects the helper's structural client to a TestClient. */
    function bridge(c: TestClient): FakeXmpp {
      const xmpp = new FakeXmpp();
      xmpp.reply = async (iq) => {
        c.clearSent();
        await c.receive(iq);
        const r = await c.nextSent();
        if (r.attrs.type === 'error') throw Object.assign(new Error(stanzaErrorCondition(r)), { condition: stanzaErrorCondition(r) });
        return r;
      };
      xmpp.write = async (data: string) => {
        if (data.trim() === '') c.receiveWhitespace();
      };
      return xmpp;
    }

    it('negotiates with the server; our whitespace keeps the negotiated stream alive past the silence limit', async () => {
      const host = await hostWith({ minInterval: 10, maxInterval: 60 }, { config: { timeouts: { read: 0 } } });
      const c = await host.connect();
      const xmpp = bridge(c);
      await expect(negotiateKeepalive(xmpp, 5)).rejects.toMatchObject({ condition: 'not-acceptable' });
      const ka = await negotiateKeepalive(xmpp, 10, { timers: fakeTimers(host.time) });
      await host.time.advance(600_000);
      expect(c.stream.state).toBe('open');
      expect(ka.sender!.sent).toBe(60);
      expect(c.stream.keepalivesSent).toBe(60); // and the server's spaces at the same interval
      ka.stop();
      await host.time.advance(31_000);
      expect(c.stream.closeInfo?.reason).toBe('keepalive-silence');
    });
  });
});
