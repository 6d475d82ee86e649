/**
 * Unauthorised probers, probers with a pending request and probes of accounts that do not exist get
 * one and the same answer (a bare `unavailable` from the contact's bare JID), nothing is revealed
 * (no status, no delay, no directed presence) and no subscription state changes — the deliberate
 * departure from RFC 6121 §4.3.2 (`unsubscribed`).
 */
import { describe, expect, it } from '@jest/globals';
import type { Roster } from '@strand/core';
import type { TestHost } from '@strand/testing';
import { anonymise, makeHost, probe, setItem } from './helpers.js';

async function rosters(host: TestHost, users: string[]): Promise<Record<string, Roster>> {
  const out: Record<string, Roster> = {};
  for (const u of users) out[u] = await host.roster.get(`${u}@localhost`);
  return out;
}

describe('probes that must reveal nothing', () => {
  it('answers an unsubscribed user, a user with a pending outbound request and a prober of a nonexistent account byte-identically', async () => {
    const host = await makeHost();
    // bob is online with a status and has been offline before: plenty that could leak.
    const bob = await host.connect({ user: 'bob', resource: 'phone', available: true });
    await bob.receive(`<presence><show>dnd</show><status>secret meeting</status></presence>`);
    await setItem(host, 'bob', 'alice', 'from'); // alice is authorised (control)
    await setItem(host, 'bob', 'erin', 'to'); // bob sees erin, erin does not see bob
    // dave asked bob for a subscription: dave has Pending Out, bob Pending In.
    await setItem(host, 'dave', 'bob', 'none', { ask: true });
    await setItem(host, 'bob', 'dave', 'none', { pendingIn: true, visible: false, pendingInStanza: `<presence type='subscribe'/>` });
    // carol has bob on her roster with `to` (her view), but bob's roster says nothing about her.
    await setItem(host, 'carol', 'bob', 'to');
    const before = await rosters(host, ['alice', 'bob', 'carol', 'dave', 'erin']);
    const routedBefore = host.routed.length;

    const carol = await host.connect({ user: 'carol', resource: 'c' });
    const dave = await host.connect({ user: 'dave', resource: 'c' });
    const erin = await host.connect({ user: 'erin', resource: 'c' });
    const alice = await host.connect({ user: 'alice', resource: 'c' });

    const unsubscribed = await probe(carol, 'bob@localhost');
    const pending = await probe(dave, 'bob@localhost');
    const onlyTo = await probe(erin, 'bob@localhost');
    const nonexistent = await probe(carol, 'nobody@localhost');
    const nonexistentFull = await probe(carol, 'nobody@localhost/x');
    const unauthorisedFull = await probe(carol, 'bob@localhost/phone');
    const control = await probe(alice, 'bob@localhost');

    const norm = (els: { toString(): string }[], me: string, contact: string) =>
      els.map((e) => anonymise(e.toString(), { [me]: 'PROBER', [contact]: 'CONTACT' }));
    const expected = [`<presence from="CONTACT" to="PROBER" type="unavailable"/>`];
    expect(norm(unsubscribed, 'carol@localhost/c', 'bob@localhost')).toEqual(expected);
    expect(norm(pending, 'dave@localhost/c', 'bob@localhost')).toEqual(expected);
    expect(norm(onlyTo, 'erin@localhost/c', 'bob@localhost')).toEqual(expected);
    expect(norm(nonexistent, 'carol@localhost/c', 'nobody@localhost')).toEqual(expected);
    expect(norm(nonexistentFull, 'carol@localhost/c', 'nobody@localhost')).toEqual(expected);
    expect(norm(unauthorisedFull, 'carol@localhost/c', 'bob@localhost')).toEqual(expected);
    expect(control).toHaveLength(1);
    expect(control[0]!.getChildText('status')).toBe('secret meeting'); // the control does see it

    // No subscription state changed, nothing was sent to bob or routed anywhere.
    expect(await rosters(host, ['alice', 'bob', 'carol', 'dave', 'erin'])).toEqual(before);
    expect(host.routed.length).toBe(routedBefore);
    expect(bob.sentStanzas().filter((s) => s.attrs.type === 'probe' || s.attrs.type === 'unsubscribed')).toEqual([]);
  });

  it('never reveals directed presence', async () => {
    const host = await makeHost();
    const carol = await host.connect({ user: 'carol', resource: 'c' });
    const bob = await host.connect({ user: 'bob', resource: 'phone' });
    // bob sends directed presence to carol only; he never broadcasts.
    await bob.receive(`<presence to='carol@localhost/c'><status>only for carol</status></presence>`);
    expect(carol.sentStanzas().map((s) => s.getChildText('status'))).toEqual(['only for carol']);
    expect(await host.presence.get('bob@localhost')).toEqual([]);
    const answers = await probe(carol, 'bob@localhost');
    expect(answers.map((e) => e.toString())).toEqual([`<presence from="bob@localhost" to="carol@localhost/c" type="unavailable"/>`]);

    // Even an authorised prober only sees broadcast presence (here: none ever).
    await setItem(host, 'bob', 'carol', 'from');
    const again = await probe(carol, 'bob@localhost');
    expect(again.map((e) => e.toString())).toEqual([`<presence from="bob@localhost" to="carol@localhost/c" type="unavailable"/>`]);
  });

  it('does not treat pre-approval or a pending inbound request as authorisation', async () => {
    const host = await makeHost();
    await host.connect({ user: 'bob', resource: 'phone', available: true });
    await setItem(host, 'bob', 'carol', 'none', { approved: true });
    await setItem(host, 'bob', 'dave', 'none', { pendingIn: true });
    const carol = await host.connect({ user: 'carol' });
    const dave = await host.connect({ user: 'dave' });
    expect((await probe(carol, 'bob@localhost')).map(String)).toEqual([`<presence from="bob@localhost" to="carol@localhost/r1" type="unavailable"/>`]);
    expect((await probe(dave, 'bob@localhost')).map(String)).toEqual([`<presence from="bob@localhost" to="dave@localhost/r1" type="unavailable"/>`]);
  });
});
