/**
 * A bystander conversation for isolation tests: two real `@xmpp/client` sessions, alice sending
 * bob a numbered chat message every `intervalMs` while a test abuses the server on other
 * connections. {@link Chatter.finish} reports what bob got, so a test can assert that every
 * message arrived, in order, and that neither client noticed anything.
 */
import type { Element } from '@xmpp/xml';
import { startClient, xml, type TestXmpp } from './xmpp.js';

export interface ChatReport {
  /** Messages alice sent (bodies `0` … `sent - 1`). */
  sent: number;
  /** Bodies of the chat messages bob received from alice, in arrival order. */
  received: string[];
  /** Stanzas either client received that are not part of the conversation. */
  unexpected: string[];
  /** Status changes after both were online, and errors, of either client (expected: none). */
  incidents: string[];
}

export interface Chatter {
  alice: TestXmpp;
  bob: TestXmpp;
  /** Messages sent so far. */
  readonly sent: number;
  /** Stops sending, waits (up to `timeoutMs`) until bob has every message, and reports. */
  finish(timeoutMs?: number): Promise<ChatReport>;
  /** Stops sending (if still running) and both clients. */
  stop(): Promise<void>;
}

/** Logs alice (STARTTLS) and bob (direct TLS) in and starts the conversation. */
export async function startChatter(ports: { c2s: number; c2sTls: number }, intervalMs = 20): Promise<Chatter> {
  const alice = await startClient({ port: ports.c2s, username: 'alice', resource: 'chatter' });
  const bob = await startClient({ port: ports.c2sTls, username: 'bob', resource: 'chatter', scheme: 'xmpps' });
  const incidents: string[] = [];
  const unexpected: string[] = [];
  const received: string[] = [];
  for (const [who, c] of [['alice', alice], ['bob', bob]] as const) {
    c.xmpp.on('status', (status: string) => incidents.push(`${who}: status ${status}`));
    c.xmpp.on('error', (err: Error) => incidents.push(`${who}: error ${err.message}`));
    c.xmpp.on('stanza', (el: Element) => {
      const fromAlice = el.is('message') && el.attrs.from === alice.jid && el.attrs.type === 'chat';
      if (who === 'bob' && fromAlice) received.push(el.getChildText('body') ?? '');
      else unexpected.push(`${who} got ${el.toString()}`);
    });
  }

  let sent = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    const n = sent++;
    const msg = xml('message', { to: bob.jid, type: 'chat', id: `chat-${n}` }, xml('body', {}, String(n)));
    chain = chain.then(() => alice.xmpp.send(msg)).catch((err: Error) => incidents.push(`alice: send ${n} failed: ${err.message}`));
  }, intervalMs);
  let stopped = false;
  const stopSending = () => {
    if (!stopped) clearInterval(timer);
    stopped = true;
  };

  return {
    alice,
    bob,
    get sent() {
      return sent;
    },
    async finish(timeoutMs = 5000) {
      stopSending();
      await chain;
      const deadline = Date.now() + timeoutMs;
      while (received.length < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return { sent, received: [...received], unexpected: [...unexpected], incidents: [...incidents] };
    },
    async stop() {
      stopSending();
      await chain;
      await Promise.all([alice.stop(), bob.stop()]);
    },
  };
}
