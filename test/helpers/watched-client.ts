/**
 * An `@xmpp/client` 0.14 session that also records, for byte-level assertions, every character the
 * server sent (after TLS decryption), each connection status change with its time, and every
 * `error` event. Used by the idle-close acceptance tests.
 */
import { client, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

export interface WatchedClient {
  xmpp: Client;
  /** The bound full JID. */
  jid: string;
  /** Everything read from the server, decoded. */
  input: string;
  /** Status changes (`online`, `close` = the server's close tag was parsed, `disconnect`…) with `Date.now()`. */
  statuses: { status: string; at: number }[];
  errors: unknown[];
  /** Received stanzas. */
  inbox: Element[];
  /** When `status` was first reached, if it was. */
  at(status: string): number | undefined;
  /** Resolves with the time `status` is (or was) reached; rejects after `timeoutMs`. */
  waitStatus(status: string, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startWatchedClient(opts: {
  port: number;
  username: string;
  password?: string;
  resource?: string;
}): Promise<WatchedClient> {
  const xmpp = client({
    service: `xmpp://localhost:${opts.port}`,
    domain: 'localhost',
    resource: opts.resource ?? 'test',
    username: opts.username,
    password: opts.password ?? 'secret',
  });
  xmpp.reconnect.stop(); // one connection: what happens to it is what the test counts
  const internals = xmpp as unknown as { _onData(data: Buffer): void; parser: unknown };
  const c: WatchedClient = {
    xmpp,
    jid: '',
    input: '',
    statuses: [],
    errors: [],
    inbox: [],
    at: (status) => c.statuses.find((s) => s.status === status)?.at,
    waitStatus(status, timeoutMs = 5000) {
      const seen = c.at(status);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for status ${status}; got ${JSON.stringify(c.statuses)}`)), timeoutMs);
        const on = (s: string) => {
          if (s !== status) return;
          clearTimeout(timer);
          xmpp.off('status', on);
          resolve(c.at(status)!);
        };
        xmpp.on('status', on);
      });
    },
    async stop() {
      try {
        if (xmpp.status === 'online') await Promise.race([xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        /* already stopped */
      }
      (xmpp as unknown as { socket?: { destroy?: () => void } }).socket?.destroy?.();
    },
  };
  // The connection binds `_onData` when it attaches its first socket (plain TCP, then TLS).
  const original = internals._onData.bind(xmpp);
  internals._onData = (data: Buffer) => {
    c.input += data.toString('utf8');
    // After the server's close tag the client detached its parser: bytes there would be a bug of
    // the server, recorded above rather than crashing the client.
    if (internals.parser) original(data);
  };
  xmpp.on('status', (status: string) => c.statuses.push({ status, at: Date.now() }));
  xmpp.on('error', (err: unknown) => c.errors.push(err));
  xmpp.on('stanza', (el: Element) => c.inbox.push(el));
  const address = await xmpp.start();
  c.jid = address.toString();
  return c;
}
