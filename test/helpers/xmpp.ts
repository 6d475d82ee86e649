/**
 * Real `@xmpp/client` 0.14 sessions for tests.
 */
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

export { xml };

export interface ClientOptions {
  port: number;
  username: string;
  password?: string;
  resource?: string;
  /** `xmpp` (STARTTLS when offered) or `xmpps` (direct TLS, XEP-0368). */
  scheme?: 'xmpp' | 'xmpps';
}

/** A started client plus an inbox of received stanzas. */
export interface TestXmpp {
  xmpp: Client;
  jid: string;
  inbox: Element[];
  /** Resolves with the first received stanza (already received or future) matching `pred`. */
  waitFor(pred: (el: Element) => boolean, timeoutMs?: number): Promise<Element>;
  stop(): Promise<void>;
}

export async function startClient(opts: ClientOptions): Promise<TestXmpp> {
  const scheme = opts.scheme ?? 'xmpp';
  const xmpp = client({
    service: `${scheme}://localhost:${opts.port}`,
    domain: 'localhost',
    resource: opts.resource ?? 'test',
    username: opts.username,
    password: opts.password ?? 'secret',
  });
  return watchClient(xmpp, () => (xmpp as unknown as { socket?: { destroy?: () => void } }).socket?.destroy?.());
}

/**
 * Starts a configured `@xmpp/client` (reconnect off) and returns it with an inbox of received
 * stanzas, `waitFor`, and a bounded `stop()` that ends with `teardown` (drop the transport).
 * Every test helper that logs a client in goes through here.
 */
export async function watchClient(xmpp: Client, teardown: () => void): Promise<TestXmpp> {
  xmpp.reconnect.stop();
  const inbox: Element[] = [];
  const waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  xmpp.on('error', () => undefined);
  xmpp.on('stanza', (el: Element) => {
    inbox.push(el);
    for (const w of [...waiters]) {
      if (w.pred(el)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(el);
      }
    }
  });
  const address = await xmpp.start();
  return {
    xmpp,
    jid: address.toString(),
    inbox,
    waitFor(pred, timeoutMs = 5000) {
      const hit = inbox.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timed out waiting for a stanza')), timeoutMs);
        waiters.push({
          pred,
          resolve: (el) => {
            clearTimeout(t);
            resolve(el);
          },
        });
      });
    },
    async stop() {
      // Bounded wait for the close handshake; the timer is cleared so it holds no open handle.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([xmpp.stop(), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      } catch {
        /* already stopped */
      } finally {
        clearTimeout(timer);
      }
      teardown();
    },
  };
}
