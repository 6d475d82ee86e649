/**
 * Test helpers for the stream management plugin on `@strand/testing`.
 */
import { expect } from '@jest/globals';
import { xml, type Element } from '@strand/core';
import { TestHost, isCloseTag, type TestClient, type TestHostOptions } from '@strand/testing';
import sm, { SmSessionKey, StreamManagerImpl, type SmSessionState } from '../src/index.js';

export const SM3 = 'urn:xmpp:sm:3';
export const SM1 = 'urn:xmpp:sm:1';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A host with the SM plugin and `config` as its section. */
export async function smHost(config: Record<string, unknown> = {}, options: Omit<TestHostOptions, 'plugins'> & { extra?: TestHostOptions['plugins'] } = {}): Promise<TestHost> {
  const { extra, ...rest } = options;
  return TestHost.create({ ...rest, plugins: [[sm, config], ...(extra ?? [])] });
}

/** Serialises an element as the tests compare it. */
export const str = (el: Element): string => el.toString();

/** The next element written to `client`, serialised. */
export async function next(client: TestClient): Promise<string> {
  return str(await client.nextSent());
}

/** Asserts nothing more was written to the client. */
export async function nothingMore(client: TestClient): Promise<void> {
  await expect(client.nextSent()).rejects.toThrow(/nothing was written/);
}

/** The SM state of a client's session. */
export function smState(client: TestClient): SmSessionState {
  const s = client.session?.slots.get(SmSessionKey);
  if (!s) throw new Error('no SM state');
  return s;
}

/** Connects alice (bound, available) and enables SM with resumption; returns the client and the SM-ID. */
export async function enabledClient(
  host: TestHost,
  opts: { user?: string; resource?: string; resume?: boolean; max?: number; ns?: string } = {},
): Promise<{ client: TestClient; id: string | undefined }> {
  const client = await host.connect({ user: opts.user ?? 'alice', resource: opts.resource ?? 'r1', available: true });
  client.clearSent();
  const attrs: Record<string, string> = { xmlns: opts.ns ?? SM3 };
  if (opts.resume ?? true) attrs.resume = 'true';
  if (opts.max !== undefined) attrs.max = String(opts.max);
  await client.receive(xml('enable', attrs));
  const enabled = await client.nextSent();
  expect(enabled.name).toBe('enabled');
  return { client, id: enabled.attrs.id as string | undefined };
}

/** A chat message from bob to `to`, routed through the host router (as if bob sent it). */
export async function deliver(host: TestHost, to: string, body: string, opts: { type?: string; id?: string } = {}): Promise<void> {
  await host.router.route(
    xml('message', { from: 'bob@localhost/b', to, type: opts.type ?? 'chat', id: opts.id ?? body }, xml('body', {}, body)),
  );
}

/** Bodies of the message stanzas in `els`. */
export const bodies = (els: Element[]): string[] =>
  els.filter((e) => e.name === 'message').map((e) => e.getChildText('body') ?? '');

/** A fresh unbound, authenticated connection of `user` (to send `<resume/>` on). */
export async function reconnect(host: TestHost, user = 'alice'): Promise<TestClient> {
  const c = await host.connect({ user, bind: false });
  c.clearSent();
  return c;
}

/** True when `el` is the close-tag marker. */
export const closeTag = isCloseTag;

/** The engine of the host. */
export const manager = (host: TestHost): StreamManagerImpl => host.get(StreamManagerImpl);
