/**
 * XEP-0318 §2: clients MUST NOT mass-probe. Each session may send `rateLimit.probes` probes per
 * sliding `rateLimit.window` seconds; the next one gets a `policy-violation` stanza error.
 */
import { describe, expect, it } from '@jest/globals';
import { stanzaErrorCondition } from '@strand/testing';
import { ProbeTimes } from '../src/index.js';
import { makeHost, probe, setItem } from './helpers.js';

describe('probe rate limit', () => {
  it('answers the N+1st probe within the window with policy-violation (type wait), and allows probes again once the window slides', async () => {
    const host = await makeHost({ rateLimit: { probes: 3, window: 10 } });
    await setItem(host, 'bob', 'alice', 'from');
    const alice = await host.connect({ user: 'alice' });
    for (let i = 0; i < 3; i++) {
      const answers = await probe(alice, 'bob@localhost', `p${i}`);
      expect(answers.map((a) => a.attrs.type)).toEqual(['unavailable']);
      await host.time.advance(1000);
    }
    const refused = await probe(alice, 'bob@localhost', 'p3');
    expect(refused).toHaveLength(1);
    const err = refused[0]!;
    expect(err.attrs).toMatchObject({ type: 'error', id: 'p3', from: 'bob@localhost', to: 'alice@localhost/r1' });
    expect(stanzaErrorCondition(err)).toBe('policy-violation');
    expect(err.getChild('error')!.attrs.type).toBe('wait');
    expect(err.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toMatch(/at most 3 per 10 s/);

    // Refused probes do not count: the first probe (t=0) expires at t=10 s exactly.
    await host.time.advance(6999); // t = 9.999 s
    expect((await probe(alice, 'bob@localhost')).map((a) => a.attrs.type)).toEqual(['error']);
    await host.time.advance(1); // t = 10 s
    expect((await probe(alice, 'bob@localhost')).map((a) => a.attrs.type)).toEqual(['unavailable']);
    expect((await probe(alice, 'bob@localhost')).map((a) => a.attrs.type)).toEqual(['error']);
    expect(await host.metrics.expose()).toMatch(/strand_presence_probe_rate_limited_total 3/);
  });

  it('counts every probe of the session — server, remote and own account included — and limits each session separately', async () => {
    const host = await makeHost({ rateLimit: { probes: 2, window: 60 } });
    const a1 = await host.connect({ user: 'alice', resource: 'one' });
    const a2 = await host.connect({ user: 'alice', resource: 'two' });
    expect(await probe(a1, 'localhost')).toHaveLength(1);
    expect(await probe(a1, 'romeo@montague.example')).toHaveLength(0); // left to the host
    const third = await probe(a1, 'alice@localhost');
    expect(third.map((s) => stanzaErrorCondition(s))).toEqual(['policy-violation']);
    expect(await probe(a1, 'localhost')).toHaveLength(1); // still refused: the error
    expect((await probe(a2, 'localhost')).map((s) => s.attrs.type)).toEqual([undefined]); // another session
    expect(host.routed.filter((r) => r.stanza.attrs.to === 'romeo@montague.example')).toHaveLength(1);
  });

  it('keeps the count in a session slot (survives resumption) and does not exempt loopback connections', async () => {
    const host = await makeHost({ rateLimit: { probes: 1, window: 60 } });
    const alice = await host.connect({ user: 'alice' });
    expect(alice.stream.remoteAddress).toBe('127.0.0.1');
    await probe(alice, 'localhost');
    expect(alice.session!.slots.get(ProbeTimes)).toEqual([host.time.now()]);
    expect((await probe(alice, 'localhost')).map((s) => stanzaErrorCondition(s))).toEqual(['policy-violation']);
  });
});
