/**
 * Stream errors raised by stream management (XEP-0198 1.6.x §5 "Error Handling").
 * @packageDocumentation
 */
import { xml, type StreamErrorSpec } from '@strand/core';
import { formatUint32 } from './counters.js';
import { SM_NS } from './namespaces.js';

/**
 * The text of the `handled-count-too-high` stream error, as in the example of §5:
 * "You acknowledged 10 stanzas, but I only sent you 8 so far."
 */
export function handledCountTooHighText(h: number, sendCount: number): string {
  return `You acknowledged ${h} stanzas, but I only sent you ${sendCount} so far.`;
}

/**
 * `undefined-condition` with `<handled-count-too-high xmlns='urn:xmpp:sm:3' h send-count/>` and
 * the spec's text (§5: the peer acknowledged more stanzas than it was sent). The application
 * condition is defined only in `urn:xmpp:sm:3`, so it is used for every SM namespace.
 * @param h the `h` the peer sent
 * @param sendCount the number of stanzas sent so far (modulo 2^32)
 */
export function handledCountTooHighError(h: number, sendCount: number): StreamErrorSpec {
  return {
    condition: 'undefined-condition',
    text: handledCountTooHighText(h, sendCount),
    appCondition: xml('handled-count-too-high', {
      xmlns: SM_NS.SM_3,
      h: formatUint32(h),
      'send-count': formatUint32(sendCount),
    }),
  };
}
