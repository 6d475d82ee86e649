/**
 * XEP-0304 elements: the stream feature byte for byte, both feature forms, interval parsing.
 */
import { describe, expect, it } from '@jest/globals';
import { NS as CORE_NS } from '@strand/core';
import { parseXml } from '@strand/testing';
import {
  keepaliveFeature,
  keepaliveIq,
  keepaliveRequest,
  NS,
  parseIntervalRequest,
  parseKeepaliveFeature,
  pingIq,
} from '../src/index.js';

describe('elements', () => {
  it('uses the namespace of XEP-0304 §7 (the same constant as core)', () => {
    expect(NS).toBe('urn:xmpp:keepalive:0');
    expect(NS).toBe(CORE_NS.KEEPALIVE);
  });

  it('builds the stream feature exactly as the §3.1 example (min/max on <interval/>)', () => {
    expect(keepaliveFeature(60, 300).toString()).toBe(
      '<keepalive xmlns="urn:xmpp:keepalive:0"><interval min="60" max="300"/></keepalive>',
    );
  });

  it('builds the negotiation payload and iq of §3.2 (no to: addressed to the server)', () => {
    expect(keepaliveRequest(60).toString()).toBe('<keepalive xmlns="urn:xmpp:keepalive:0"><interval>60</interval></keepalive>');
    expect(keepaliveIq(60, 'p03ns61g').toString()).toBe(
      '<iq type="set" id="p03ns61g"><keepalive xmlns="urn:xmpp:keepalive:0"><interval>60</interval></keepalive></iq>',
    );
    expect(keepaliveIq(60).attrs.id).toBeUndefined();
  });

  it('builds the XEP-0199 §4.1 server-to-client ping', () => {
    expect(pingIq('s2c1', 'capulet.lit', 'juliet@capulet.lit/balcony').toString()).toBe(
      '<iq type="get" id="s2c1" from="capulet.lit" to="juliet@capulet.lit/balcony"><ping xmlns="urn:xmpp:ping"/></iq>',
    );
  });

  describe('parseKeepaliveFeature accepts both forms (the example and the schema disagree)', () => {
    it.each([
      ['example form (§3.1)', `<keepalive xmlns='${NS}'><interval min='60' max='300'/></keepalive>`, { min: 60, max: 300 }],
      ['schema form (§8)', `<keepalive xmlns='${NS}' min='10' max='20'/>`, { min: 10, max: 20 }],
      ['both: the example form wins', `<keepalive xmlns='${NS}' min='1' max='2'><interval min='5' max='6'/></keepalive>`, { min: 5, max: 6 }],
      ['invalid example form falls back to the schema form', `<keepalive xmlns='${NS}' min='1' max='2'><interval min='x'/></keepalive>`, { min: 1, max: 2 }],
      ['min = max', `<keepalive xmlns='${NS}'><interval min='30' max='30'/></keepalive>`, { min: 30, max: 30 }],
      ['inside <stream:features/>', `<features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><keepalive xmlns='${NS}'><interval min='60' max='300'/></keepalive></features>`, { min: 60, max: 300 }],
    ])('%s', (_name, xml, range) => {
      expect(parseKeepaliveFeature(parseXml(xml))).toEqual(range);
    });

    it.each([
      ['no min/max at all', `<keepalive xmlns='${NS}'/>`],
      ['min > max', `<keepalive xmlns='${NS}'><interval min='300' max='60'/></keepalive>`],
      ['zero', `<keepalive xmlns='${NS}'><interval min='0' max='60'/></keepalive>`],
      ['above positiveShort', `<keepalive xmlns='${NS}'><interval min='1' max='65536'/></keepalive>`],
      ['not a number', `<keepalive xmlns='${NS}'><interval min='a' max='b'/></keepalive>`],
      ['wrong namespace', `<keepalive xmlns='urn:example'><interval min='60' max='300'/></keepalive>`],
      ['features without keepalive', `<features xmlns='http://etherx.jabber.org/streams'/>`],
    ])('rejects %s', (_name, xml) => {
      expect(parseKeepaliveFeature(parseXml(xml))).toBeUndefined();
    });
  });

  describe('parseIntervalRequest', () => {
    const parse = (inner: string) => parseIntervalRequest(parseXml(`<keepalive xmlns='${NS}'>${inner}</keepalive>`));

    it.each([
      ['60', 60],
      [' 60\n', 60],
      ['060', 60],
      ['+60', 60],
      ['0', 0],
      ['-5', -5],
      ['99999999999', 99999999999],
    ])('integer %j → %d', (text, value) => {
      expect(parse(`<interval>${text}</interval>`)).toEqual({ kind: 'number', value, integer: true });
    });

    it.each([
      ['1.5', 1.5],
      ['60.0', 60],
      ['60.', 60],
      ['.5', 0.5],
    ])('fraction %j is a number but not an integer', (text, value) => {
      expect(parse(`<interval>${text}</interval>`)).toEqual({ kind: 'number', value, integer: false });
    });

    it.each([['abc'], ['1e2'], ['0x3C'], ['6 0'], ['--1'], ['Infinity'], ['NaN']])('%j is malformed', (text) => {
      expect(parse(`<interval>${text}</interval>`).kind).toBe('malformed');
    });

    it('an <interval/> element with child elements, or two of them, is malformed', () => {
      expect(parse('<interval><x/>60</interval>').kind).toBe('malformed');
      expect(parse('<interval>60</interval><interval>90</interval>').kind).toBe('malformed');
    });

    it('no <interval/>, an empty one or one with only min/max attributes is missing', () => {
      expect(parse('')).toEqual({ kind: 'missing' });
      expect(parse('<interval/>')).toEqual({ kind: 'missing' });
      expect(parse('<interval>  </interval>')).toEqual({ kind: 'missing' });
      expect(parse("<interval min='60' max='300'/>")).toEqual({ kind: 'missing' });
      expect(parse("<other xmlns='urn:example'>60</other>")).toEqual({ kind: 'missing' });
    });

    it('accepts an unqualified <interval/> (the §8 schema says elementFormDefault=unqualified)', () => {
      expect(parseIntervalRequest(parseXml(`<keepalive xmlns='${NS}'><interval xmlns=''>90</interval></keepalive>`))).toEqual({
        kind: 'number',
        value: 90,
        integer: true,
      });
    });
  });
});
