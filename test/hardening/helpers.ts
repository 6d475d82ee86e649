/**
 * Shared helpers of the hardening tests: byte-level clients (WireClient) that log in, enable stream
 * management, count the stanzas they receive (the client's `h`), resume, and wait for conditions.
 */
import { afterEach } from '@jest/globals';
import { Metrics, Router, type Metrics as MetricsT, type Router as RouterT } from '@strand/core';
import { xml } from '@xmpp/client';
import type { ServerConfig } from '@strand/server';
import { startServer, type RunningServer } from '../helpers/server.js';
import { header, WireClient } from '../helpers/wire-client.js';

export { header, WireClient, xml };

export const SM3 = 'urn:xmpp:sm:3';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

/** Resolves after `ms` of real time (waiting on real sockets only). */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until it holds; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Servers and clients started by a test file, stopped after each test. */
export class Resources {
  readonly clients: WireClient[] = [];
  servers: RunningServer[] = [];

  constructor() {
    afterEach(async () => {
      for (const c of this.clients.splice(0)) c.destroy();
      for (const s of this.servers.splice(0)) await s.stop();
    });
  }

  async server(overrides: Partial<ServerConfig> = {}, options: Parameters<typeof startServer>[1] = {}): Promise<RunningServer> {
    const s = await startServer(overrides, options);
    this.servers.push(s);
    return s;
  }

  async connect(port: number): Promise<WireClient> {
    const c = await WireClient.connect(port);
    this.clients.push(c);
    return c;
  }
}

/** Text received by `c` after `offset`. */
export const since = (c: WireClient, offset: number): string => c.text.slice(offset);

/** Waits until the text after `offset` matches `re`; returns that text. */
export async function after(c: WireClient, offset: number, re: RegExp, timeoutMs = 5000): Promise<string> {
  // WireClient.waitFor only calls `test` on what it is given.
  const probe = { test: (text: string) => re.test(text.slice(offset)) } as unknown as RegExp;
  try {
    await c.waitFor(probe, timeoutMs);
  } catch {
    throw new Error(`timed out waiting for ${re} after offset ${offset}; got: ${c.text.slice(offset).slice(-1500)}`);
  }
  return c.text.slice(offset);
}

/** SASL PLAIN payload. */
export const plain = (user: string, password = 'secret'): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

/** Opens a stream, authenticates with PLAIN (loopback plaintext) and restarts; stops before bind. */
export async function authenticate(c: WireClient, user: string, password = 'secret'): Promise<void> {
  await c.send(header());
  await c.waitFor(/<\/stream:features>/);
  const mark = c.text.length;
  await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain(user, password)}</auth>`);
  await after(c, mark, /<success/);
  const mark2 = c.text.length;
  await c.send(header());
  await after(c, mark2, /<\/stream:features>/);
}

/** Binds `resource` on an authenticated stream; returns the full JID. */
export async function bind(c: WireClient, resource: string): Promise<string> {
  const mark = c.text.length;
  await c.send(`<iq type='set' id='bind-${resource}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  const text = await after(c, mark, /<jid>[^<]+<\/jid>|<\/iq>/);
  const m = /<jid>([^<]+)<\/jid>/.exec(text);
  if (!m) throw new Error(`bind failed: ${text}`);
  return m[1]!;
}

/** Enables SM with resumption; returns the SM-ID and the offset right after `<enabled/>`. */
export async function enableSm(c: WireClient, attrs = "resume='true'"): Promise<{ id: string; mark: number }> {
  const mark = c.text.length;
  await c.send(`<enable xmlns='${SM3}' ${attrs}/>`);
  const text = await after(c, mark, /<enabled [^>]*\/>/);
  const m = /<enabled [^>]*id="([^"]+)"[^>]*\/>/.exec(text);
  if (!m) throw new Error(`no SM-ID in ${text}`);
  return { id: m[1]!, mark: mark + text.indexOf('<enabled ') + /<enabled [^>]*\/>/.exec(text)![0].length };
}

/** Top-level stanzas in a received text (messages, presences, iqs the server wrote). */
export function countStanzas(text: string): number {
  return (text.match(/<(message|presence|iq)[\s>/]/g) ?? []).length;
}

/** Routes a chat message as if `from` had sent it (through the server's router). */
export function routeMessage(srv: RunningServer, from: string, to: string, body: string): Promise<void> {
  const router = srv.server.container.get<RouterT>(Router);
  return router.route(xml('message', { from, to, type: 'chat', id: body }, xml('body', {}, body)));
}

/** The server's Prometheus exposition. */
export function metrics(srv: RunningServer): Promise<string> {
  return srv.server.container.get<MetricsT>(Metrics).expose();
}
