/**
 * Shared helpers of the keepalive unit tests (fake host, fake time; never real sleeps).
 */
import { NS as CORE_NS, type Element } from '@strand/core';
import { stanzaErrorCondition, TestHost, type TestClient, type TestHostOptions } from '@strand/testing';
import keepalive from '../src/index.js';

export { keepalive };

/** A test host with the keepalive plugin (raw config section) plus extra entries/overrides. */
export async function hostWith(
  config: Record<string, unknown> = {},
  options: Omit<TestHostOptions, 'plugins'> & { plugins?: TestHostOptions['plugins'] } = {},
): Promise<TestHost> {
  return TestHost.create({
    ...options,
    plugins: [[keepalive, config], ...(options.plugins ?? [])],
  });
}

/** The negotiation iq as a client would send it. */
export function negotiation(value: string | number, id = 'ka1', extra = ''): string {
  return `<iq type='set' id='${id}'${extra}><keepalive xmlns='${CORE_NS.KEEPALIVE}'><interval>${value}</interval></keepalive></iq>`;
}

/** Sends a negotiation request and returns the server's reply. */
export async function negotiate(c: TestClient, value: string | number, id = 'ka1'): Promise<Element> {
  c.clearSent();
  await c.receive(negotiation(value, id));
  return c.nextSent();
}

/** The `type` and defined condition of an error reply. */
export function errorOf(reply: Element): { type: string | undefined; condition: string | undefined } {
  return { type: reply.getChild('error')?.attrs.type, condition: stanzaErrorCondition(reply) };
}

/** Value of a counter (with labels) in the Prometheus text exposition, or 0. */
export async function metric(host: TestHost, name: string, labels = ''): Promise<number> {
  const text = await host.metrics.expose();
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}
