/**
 * A bystander conversation for isolation tests: two real `@xmpp/client` sessions, alice
 * (STARTTLS) and bob (direct TLS), each sending the other a numbered chat message every
 * `intervalMs` while a test abuses the server on other connections. {@link Chatter.finish}
 * reports what each received, so a test can assert that every message arrived, in order, and
 * that neither client noticed anything.
 */
import type { Element } from '@xmpp/xml';
import { startClient, xml, type TestXmpp } from './xmpp.js';

export interface ChatReport {
  /** Messages alice sent to bob (bodies `0` … `sent - 1`). */
  sent: number;
  /** Bodies of the chat messages bob received from alice, in arrival order. */
  received: string[];
  /** Messages bob sent to alice (bodies `0` … `sentByBob - 1`). */
  sentByBob: number;
  /** Bodies of the chat messages alice received from bob, in arrival order. */
  receivedByAlice: string[];
  /** Stanzas either client received that are not part of the conversation. */
  unexpected: string[];
  /** Status changes after both were online, errors and failed sends (expected: none). */
  incidents: string[];
}

export interface Chatter {
  alice: TestXmpp;
  bob: TestXmpp;
  /** Messages alice has sent so far. */
  readonly sent: number;
  /** Stops sending, waits (up to `timeoutMs`) until every message has arrived, and reports. */
  finish(timeoutMs?: number): Promise<ChatReport>;
  /** Stops sending (if still running) and both clients. */
  stop(): Promise<void>;
}

/** Logs alice and bob in and starts the conversation. */
export async function startChatter(ports: { c2s: number; c2sTls: number }, intervalMs = 20): Promise<Chatter> {
  const alice = await startClient({ port: ports.c2s, username: 'alice', resource: 'chatter' });
  const bob = await startClient({ port: ports.c2sTls, username: 'bob', resource: 'chatter', scheme: 'xmpps' });
  const peers = { alice: { self: alice, other: bob }, bob: { self: bob, other: alice } };
  const incidents: string[] = [];
  const unexpected: string[] = [];
  const sent = { alice: 0, bob: 0 };
  const received: Record<'alice' | 'bob', string[]> = { alice: [], bob: [] };
  const chains: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];

  for (const who of ['alice', 'bob'] as const) {
    const { self, other } = peers[who];
    self.xmpp.on('status', (status: string) => incidents.push(`${who}: status ${status}`));
    self.xmpp.on('error', (err: Error) => incidents.push(`${who}: error ${err.message}`));
    self.xmpp.on('stanza', (el: Element) => {
      if (el.is('message') && el.attrs.from === other.jid && el.attrs.type === 'chat') received[who].push(el.getChildText('body') ?? '');
      else unexpected.push(`${who} got ${el.toString()}`);
    });
  }

  const timer = setInterval(() => {
    (['alice', 'bob'] as const).forEach((who, i) => {
      const { self, other } = peers[who];
      const n = sent[who]++;
      const msg = xml('message', { to: other.jid, type: 'chat', id: `${who}-${n}` }, xml('body', {}, String(n)));
      // Chained, so a slow send never reorders the conversation.
      chains[i] = chains[i]!.then(() => self.xmpp.send(msg)).catch((err: Error) => incidents.push(`${who}: send ${n} failed: ${err.message}`));
    });
  }, intervalMs);
  let stopped = false;
  const stopSending = async () => {
    if (!stopped) clearInterval(timer);
    stopped = true;
    await Promise.all(chains);
  };

  return {
    alice,
    bob,
    get sent() {
      return sent.alice;
    },
    async finish(timeoutMs = 5000) {
      await stopSending();
      const deadline = Date.now() + timeoutMs;
      const done = () => received.bob.length >= sent.alice && received.alice.length >= sent.bob;
      while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return {
        sent: sent.alice,
        received: [...received.bob],
        sentByBob: sent.bob,
        receivedByAlice: [...received.alice],
        unexpected: [...unexpected],
        incidents: [...incidents],
      };
    },
    async stop() {
      await stopSending();
      await Promise.all([alice.stop(), bob.stop()]);
    },
  };
}
