/**
 * XEP-0199 §4.2: client-to-server ping, answered with an empty result.
 */
import { injectable } from 'inversify';
import { NS, type IqHandler } from '@strand/core';

@injectable()
export class PingHandlerImpl implements IqHandler {
  readonly xmlns = NS.PING;
  readonly element = 'ping';
  readonly types = ['get'] as const;
  readonly target = 'server' as const;
  handle(): void {}
}
