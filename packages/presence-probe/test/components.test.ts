/**
 * `answerForComponents`: a connected component that does not answer a probe of its JID within
 * `componentAnswerTimeout` gets answered for, with its connect time (`ServerInfo.components`).
 */
import { describe, expect, it } from '@jest/globals';
import { ComponentProbeFallbackImpl } from '../src/index.js';
import { delayOf, makeHost, probe, stamp } from './helpers.js';

describe('answerForComponents', () => {
  it("answers with the component's connect time when it stays silent", async () => {
    const host = await makeHost({ answerForComponents: true, componentAnswerTimeout: 2 });
    await host.time.advance(5000);
    const connectedAt = host.time.now();
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    await host.time.advance(60_000);
    const alice = await host.connect({ user: 'alice' });
    expect(await probe(alice, 'svc.localhost')).toEqual([]);
    // The probe went to the component, as routed by the host.
    expect(svc.sentStanzas().map((s) => s.toString())).toEqual([`<presence type="probe" to="svc.localhost" from="alice@localhost/r1"/>`]);
    await host.time.advance(1999);
    expect(alice.sentStanzas()).toEqual([]);
    await host.time.advance(1);
    const answers = alice.sentStanzas();
    expect(answers.map((s) => s.toString())).toEqual([
      `<presence from="svc.localhost" to="alice@localhost/r1"><delay xmlns="urn:xmpp:delay" from="svc.localhost" stamp="${stamp(connectedAt)}"/></presence>`,
    ]);
    expect(delayOf(answers[0]!)!.attrs.stamp).toBe(stamp(connectedAt));
    expect(host.get(ComponentProbeFallbackImpl).waiting).toBe(0);
  });

  it('stays quiet when the component answers itself in time', async () => {
    const host = await makeHost({ answerForComponents: true });
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    const alice = await host.connect({ user: 'alice' });
    await probe(alice, 'svc.localhost');
    await host.time.advance(500);
    await svc.receive(`<presence from='svc.localhost' to='alice@localhost/r1'><status>own answer</status></presence>`);
    await host.time.advance(10_000);
    expect(alice.sentStanzas().map((s) => s.getChildText('status'))).toEqual(['own answer']);
    expect(host.get(ComponentProbeFallbackImpl).waiting).toBe(0);
  });

  it('answers once per unanswered probe and not after the component left', async () => {
    const host = await makeHost({ answerForComponents: true, componentAnswerTimeout: 1 });
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    const alice = await host.connect({ user: 'alice' });
    await probe(alice, 'svc.localhost');
    await probe(alice, 'svc.localhost');
    alice.clearSent();
    await svc.receive(`<presence from='svc.localhost' to='alice@localhost/r1'/>`); // answers one
    await host.time.advance(1000);
    expect(alice.sentStanzas().map((s) => s.attrs.from)).toEqual(['svc.localhost', 'svc.localhost']);
    expect(alice.sentStanzas().filter((s) => delayOf(s))).toHaveLength(1);

    alice.clearSent();
    await probe(alice, 'svc.localhost');
    await svc.closeFromPeer();
    expect(host.serverInfo.components.has('svc.localhost')).toBe(false);
    await host.time.advance(1000);
    expect(alice.sentStanzas()).toEqual([]);
  });

  it('is off by default: the probe is only routed to the component', async () => {
    const host = await makeHost();
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    const alice = await host.connect({ user: 'alice' });
    await probe(alice, 'svc.localhost');
    await host.time.advance(60_000);
    expect(svc.sentStanzas()).toHaveLength(1);
    expect(alice.sentStanzas()).toEqual([]);
    expect(host.hooks.outboundInterceptors.some((i) => i instanceof ComponentProbeFallbackImpl)).toBe(false);
  });

  it('leaves probes of users at a component domain to the host', async () => {
    const host = await makeHost({ answerForComponents: true });
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    const alice = await host.connect({ user: 'alice' });
    await probe(alice, 'user@svc.localhost');
    await host.time.advance(60_000);
    expect(svc.sentStanzas().map((s) => s.attrs.to)).toEqual(['user@svc.localhost']);
    expect(alice.sentStanzas()).toEqual([]);
  });
});
