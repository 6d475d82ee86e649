/**
 * Shared helpers of the plugin's unit tests (TestHost, fake time, memory stores).
 */
import { xep82DateTime, type Element, type RosterItem, type Subscription } from '@strand/core';
import { TestHost, type TestClient } from '@strand/testing';
import presenceProbe from '../src/index.js';

export const DELAY = 'urn:xmpp:delay';

/** A TestHost with the plugin and an optional raw config section. */
export function makeHost(config: Record<string, unknown> = {}): Promise<TestHost> {
  return TestHost.create({ plugins: [[presenceProbe, config]] });
}

/** Sets `owner`'s roster item for `contact` (bare JIDs or localparts on `localhost`). */
export async function setItem(
  host: TestHost,
  owner: string,
  contact: string,
  subscription: Subscription,
  extra: Partial<RosterItem> = {},
): Promise<void> {
  await host.roster.setItem(bare(owner), {
    jid: bare(contact),
    subscription,
    ask: false,
    pendingIn: false,
    approved: false,
    groups: [],
    visible: true,
    ...extra,
  });
}

/** `alice` → `alice@localhost`. */
export function bare(user: string): string {
  return user.includes('@') ? user : `${user}@localhost`;
}

/** Sends a probe from `client` and returns the stanzas written to it by that probe. */
export async function probe(client: TestClient, to?: string, id?: string): Promise<Element[]> {
  client.clearSent();
  const attrs = [`type='probe'`];
  if (to !== undefined) attrs.push(`to='${to}'`);
  if (id !== undefined) attrs.push(`id='${id}'`);
  await client.receive(`<presence ${attrs.join(' ')}/>`);
  return client.sentStanzas();
}

/** The `urn:xmpp:delay` child of a stanza (asserting there is exactly one). */
export function delayOf(el: Element): Element | undefined {
  const delays = el.getChildren('delay', DELAY);
  if (delays.length > 1) throw new Error(`more than one delay in ${el.toString()}`);
  return delays[0];
}

/** The XEP-0082 stamp for an epoch-ms time, as the plugin writes it. */
export const stamp = (ms: number) => xep82DateTime(ms);

/** Replaces every occurrence of each given address by a placeholder (for byte comparisons). */
export function anonymise(xml: string, addresses: Record<string, string>): string {
  let s = xml;
  for (const [addr, placeholder] of Object.entries(addresses)) s = s.split(addr).join(placeholder);
  return s;
}
