/**
 * The stream feature (XEP-0198 1.6.x §2 "Stream Feature").
 * @packageDocumentation
 */
import { xml, type Element } from '@strand/core';
import { SM_NS } from './namespaces.js';

/**
 * `<sm xmlns='urn:xmpp:sm:3'/>` or `<sm xmlns='urn:xmpp:sm:2'/>` — empty since 1.6.3 removed the
 * `<optional/>`/`<required/>` children. For the legacy `urn:xmpp:sm:1` feature see
 * `sm1FeatureElement` in `legacy-sm1.ts`.
 */
export function smFeatureElement(ns: typeof SM_NS.SM_3 | typeof SM_NS.SM_2): Element {
  return xml('sm', { xmlns: ns });
}
