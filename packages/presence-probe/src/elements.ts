/**
 * Element builders for probe answers (XEP-0318 with XEP-0203 delays, XEP-0082 stamps).
 * @packageDocumentation
 */
import { cloneElement, NS, xep82DateTime, xml, type Element } from '@strand/core';

/**
 * `<delay xmlns='urn:xmpp:delay' from='{from}' stamp='{at}'/>` (XEP-0203), attributes in the order
 * of XEP-0318's examples; the stamp is XEP-0082 UTC with `Z` (core `xep82DateTime`, milliseconds
 * included, which XEP-0082 allows).
 */
export function probeDelay(at: number, from: string): Element {
  return xml('delay', { xmlns: NS.DELAY, from, stamp: xep82DateTime(at) });
}

/**
 * The answer that reveals nothing: `<presence from='{from}' to='{to}' type='unavailable'/>`.
 *
 * Sent to unauthorised probers, for accounts that do not exist and for contacts that never had a
 * session — always built here, so that all of these are byte-identical apart from the addresses.
 * @param from the probed JID as the answer's sender (the contact's bare JID for unauthorised probers)
 * @param to the prober's full JID
 */
export function unavailablePresence(from: string, to: string): Element {
  return xml('presence', { from, to, type: 'unavailable' });
}

/**
 * Uptime of a server or component (XEP-0318 §3.2):
 * `<presence from='{from}' to='{to}'><delay xmlns='urn:xmpp:delay' from='{from}' stamp='{since}'/></presence>`.
 * @param from the server's or component's domain
 * @param to the prober's full JID
 * @param since when it went online (epoch ms)
 */
export function uptimePresence(from: string, to: string, since: number): Element {
  return xml('presence', { from, to }, probeDelay(since, from));
}

/** Options of {@link stampedPresence}. */
export interface StampOptions {
  /** `from` of the answer (full JID of the resource, or the bare JID for a last unavailable presence). */
  from: string;
  /** The prober's full JID. */
  to: string;
  /** `from` of the `<delay/>`: the full JID of the resource that set the presence. */
  delayFrom: string;
  /** When the presence was set (epoch ms), the delay's `stamp`. */
  at: number;
}

/**
 * A stored presence as a probe answer: a copy with `from`/`to` set, every attribute (`type`, `id`,
 * `xml:lang`) and child (`<show/>`, `<status/>`, `<priority/>`, extensions) kept, any
 * `urn:xmpp:delay` child the client had put in removed, and the server's own
 * `<delay from stamp/>` appended (the server knows when it recorded the presence; a delay supplied
 * by the client is not trustworthy, XEP-0203 §6).
 */
export function stampedPresence(stored: Element, options: StampOptions): Element {
  const { from: _f, to: _t, xmlns, ...rest } = stored.attrs as Record<string, string>;
  const attrs: Record<string, string> = { from: options.from, to: options.to, ...rest };
  // The content namespace comes from the stream the answer is written to.
  if (xmlns !== undefined && xmlns !== NS.CLIENT && xmlns !== NS.COMPONENT_ACCEPT) attrs.xmlns = xmlns;
  const answer = xml('presence', attrs);
  for (const child of stored.children) {
    if (typeof child === 'string') {
      answer.children.push(child);
      continue;
    }
    const el = child as Element;
    if (el.name === 'delay' && el.getNS() === NS.DELAY) continue;
    answer.cnode(cloneElement(el));
  }
  answer.append(probeDelay(options.at, options.delayFrom));
  return answer;
}
