import { describe, expect, it } from '@jest/globals';
import { streamError, xml } from '@strand/core';
import { parseXml as parse } from '@strand/testing';
import { ackElement, parseAck, requestElement } from '../src/acks.js';
import { enabledElement, failedElement, parseEnable } from '../src/enable.js';
import { handledCountTooHighError } from '../src/errors.js';
import { smFeatureElement } from '../src/feature.js';
import { SM_NS } from '../src/namespaces.js';
import { parseResume, resumedElement } from '../src/resumption.js';
import { SM_ID_LENGTH, generateSmId } from '../src/sm-id.js';

const el = (s: string) => parse(s);

describe('builders produce the exact bytes of XEP-0198 1.6.x', () => {
  it('feature (§2)', () => {
    expect(smFeatureElement(SM_NS.SM_3).toString()).toBe(`<sm xmlns="urn:xmpp:sm:3"/>`);
    expect(smFeatureElement(SM_NS.SM_2).toString()).toBe(`<sm xmlns="urn:xmpp:sm:2"/>`);
  });

  it('enabled (§3, §4) with and without resumption', () => {
    expect(enabledElement(SM_NS.SM_3).toString()).toBe(`<enabled xmlns="urn:xmpp:sm:3"/>`);
    expect(
      enabledElement(SM_NS.SM_3, { id: 'some-long-sm-id', resume: true, maxSeconds: 600, location: '[2001:41D0:1:A49b::1]:9222' }).toString(),
    ).toBe(`<enabled xmlns="urn:xmpp:sm:3" id="some-long-sm-id" resume="true" max="600" location="[2001:41D0:1:A49b::1]:9222"/>`);
    // sm:1 has neither max nor location on <enabled/>
    expect(enabledElement(SM_NS.SM_1, { id: 'x', resume: true, maxSeconds: 600, location: 'a:1' }).toString()).toBe(
      `<enabled xmlns="urn:xmpp:sm:1" id="x" resume="true"/>`,
    );
  });

  it('failed (§3, §4, §5)', () => {
    expect(failedElement(SM_NS.SM_3, 'unexpected-request').toString()).toBe(
      `<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    expect(failedElement(SM_NS.SM_3, 'item-not-found', 42).toString()).toBe(
      `<failed xmlns="urn:xmpp:sm:3" h="42"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    expect(failedElement(SM_NS.SM_1, 'item-not-found', 42).toString()).toBe(
      `<failed xmlns="urn:xmpp:sm:1"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
  });

  it('r and a (§4)', () => {
    expect(requestElement(SM_NS.SM_3).toString()).toBe(`<r xmlns="urn:xmpp:sm:3"/>`);
    expect(ackElement(SM_NS.SM_3, 0).toString()).toBe(`<a xmlns="urn:xmpp:sm:3" h="0"/>`);
    expect(ackElement(SM_NS.SM_2, 4294967295).toString()).toBe(`<a xmlns="urn:xmpp:sm:2" h="4294967295"/>`);
    expect(() => ackElement(SM_NS.SM_3, 4294967296)).toThrow(RangeError);
  });

  it('resumed (§4)', () => {
    expect(resumedElement(SM_NS.SM_3, 'some-long-sm-id', 7).toString()).toBe(
      `<resumed xmlns="urn:xmpp:sm:3" h="7" previd="some-long-sm-id"/>`,
    );
    expect(resumedElement(SM_NS.SM_1, 'x', undefined).toString()).toBe(`<resumed xmlns="urn:xmpp:sm:1" previd="x"/>`);
    expect(() => resumedElement(SM_NS.SM_3, 'x', undefined)).toThrow(RangeError);
  });

  it('handled-count-too-high (§5) with the spec text', () => {
    const spec = handledCountTooHighError(10, 8);
    expect(spec.condition).toBe('undefined-condition');
    expect(spec.text).toBe('You acknowledged 10 stanzas, but I only sent you 8 so far.');
    expect(spec.appCondition!.toString()).toBe(`<handled-count-too-high xmlns="urn:xmpp:sm:3" h="10" send-count="8"/>`);
    expect(streamError(spec).toString()).toBe(
      `<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">You acknowledged 10 stanzas, but I only sent you 8 so far.</text>` +
        `<handled-count-too-high xmlns="urn:xmpp:sm:3" h="10" send-count="8"/></stream:error>`,
    );
  });
});

describe('parsers', () => {
  it('parseEnable: resume boolean and max (§3)', () => {
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { resume: false, maxSeconds: undefined } });
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { resume: true, maxSeconds: undefined } });
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3' resume='1' max='60'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { resume: true, maxSeconds: 60 } });
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3' resume='0'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { resume: false, maxSeconds: undefined } });
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3' resume='false' max='0'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { resume: false, maxSeconds: undefined } });
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:2' resume='true' stanzas='5'/>`), SM_NS.SM_2)).toEqual({ ok: true, value: { resume: true, maxSeconds: undefined } });
    for (const bad of [`resume='yes'`, `resume='TRUE'`, `resume=''`, `max='-1'`, `max='1.5'`, `max='01'`, `max='abc'`, `max=''`]) {
      expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:3' ${bad}/>`), SM_NS.SM_3).ok).toBe(false);
    }
    // sm:1 ignores max (not in the draft's enable)
    expect(parseEnable(el(`<enable xmlns='urn:xmpp:sm:1' resume='true' max='x'/>`), SM_NS.SM_1)).toEqual({ ok: true, value: { resume: true, maxSeconds: undefined } });
  });

  it('parseAck: h required, canonical uint32', () => {
    expect(parseAck(el(`<a xmlns='urn:xmpp:sm:3' h='1'/>`))).toEqual({ ok: true, value: { h: 1 } });
    expect(parseAck(el(`<a xmlns='urn:xmpp:sm:3' h='4294967295'/>`))).toEqual({ ok: true, value: { h: 4294967295 } });
    for (const bad of [`<a xmlns='urn:xmpp:sm:3'/>`, `<a h='4294967296'/>`, `<a h='-1'/>`, `<a h='01'/>`, `<a h='+1'/>`, `<a h=' 1'/>`, `<a h='1e1'/>`, `<a h=''/>`]) {
      expect(parseAck(el(bad)).ok).toBe(false);
    }
  });

  it('parseResume: previd and h required for sm:3, h optional for sm:1', () => {
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' h='5' previd='abc'/>`), SM_NS.SM_3)).toEqual({ ok: true, value: { previd: 'abc', h: 5 } });
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' previd='abc'/>`), SM_NS.SM_3).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' h='5'/>`), SM_NS.SM_3).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' h='5' previd=''/>`), SM_NS.SM_3).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' h='x' previd='abc'/>`), SM_NS.SM_3).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:3' h='4294967296' previd='abc'/>`), SM_NS.SM_3).ok).toBe(false);
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:1' previd='abc'/>`), SM_NS.SM_1)).toEqual({ ok: true, value: { previd: 'abc', h: undefined } });
    expect(parseResume(el(`<resume xmlns='urn:xmpp:sm:1' previd='abc' h='foo'/>`), SM_NS.SM_1).ok).toBe(false);
  });

  it('builders and parsers round-trip', () => {
    const a = ackElement(SM_NS.SM_3, 123);
    expect(parseAck(parse(a.toString()))).toEqual({ ok: true, value: { h: 123 } });
    const x = xml('resume', { xmlns: SM_NS.SM_3, previd: 'p', h: '9' });
    expect(parseResume(parse(x.toString()), SM_NS.SM_3)).toEqual({ ok: true, value: { previd: 'p', h: 9 } });
  });
});

describe('SM-ID', () => {
  it('is 144 bits of base64url, and never repeats', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateSmId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
    expect(SM_ID_LENGTH).toBe(24);
    expect(Buffer.from(generateSmId(), 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });
});
