/**
 * Test helpers for `@strand/idle-close` on `@strand/testing` (fake time, no sockets).
 */
import { expect } from '@jest/globals';
import { xml, type Element } from '@strand/core';
import { TestHost, isCloseTag, isStreamError, type TestClient, type TestHostOptions } from '@strand/testing';
import idleClose from '../src/index.js';

/** A host with the plugin and `config` as its section (plus `extra` plugins/modules first). */
export async function idleHost(
  config: Record<string, unknown>,
  options: Omit<TestHostOptions, 'plugins'> & { extra?: TestHostOptions['plugins'] } = {},
): Promise<TestHost> {
  const { extra, ...rest } = options;
  return TestHost.create({ ...rest, plugins: [...(extra ?? []), [idleClose, config]] });
}

/** A chat message from bob to `to`, routed through the host router (as if bob sent it). */
export async function deliver(host: TestHost, to: string, body: string): Promise<void> {
  await host.router.route(xml('message', { from: 'bob@localhost/b', to, type: 'chat', id: body }, xml('body', {}, body)));
}

/** Bodies of the message stanzas in `els`. */
export const bodies = (els: Element[]): string[] =>
  els.filter((e) => e.name === 'message').map((e) => e.getChildText('body') ?? '');

/** True once the server wrote its close tag to `client`. */
export const closeTagWritten = (client: TestClient): boolean => client.sent().some(isCloseTag);

/** Asserts the server closed `client` with the plain handshake: close tag last, no stream error. */
export function expectPlainClose(client: TestClient): void {
  const sent = client.sent();
  expect(sent.filter(isStreamError)).toEqual([]);
  expect(sent.length).toBeGreaterThan(0);
  expect(isCloseTag(sent[sent.length - 1]!)).toBe(true);
}

/** The value of a metric sample line in the Prometheus exposition, or undefined when absent. */
export async function metric(host: TestHost, sample: string): Promise<number | undefined> {
  const text = await host.metrics.expose();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
