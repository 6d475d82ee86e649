/**
 * DI shape: concrete classes bound to themselves and contributed with toService, so that the
 * README's override (rebind by class in a module listed in `overrides`) works.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable, injectFromBase } from 'inversify';
import { IqHandler, Priority, SessionListener, StanzaHandler, StreamFeatureProvider, StreamListener, type XmlStream } from '@strand/core';
import {
  KeepaliveFeatureImpl,
  KeepaliveNegotiationHandlerImpl,
  KeepalivePolicyImpl,
  KeepaliveReadTimeoutListenerImpl,
  KeepaliveSessionListenerImpl,
  KeepaliveStreamListenerImpl,
  PongHandlerImpl,
  type KeepalivePolicy,
} from '../src/index.js';
import { hostWith, negotiate } from './helpers.js';

// The README example, verbatim.
@injectable()
@injectFromBase() // inversify 8: without it the base constructor's @inject parameters are undefined
class NoDefaultOnWebSocket extends KeepalivePolicyImpl {
  override of(s: XmlStream): KeepalivePolicy {
    const p = super.of(s);
    return s.transport === 'websocket' && !p.negotiated ? { ...p, keepaliveAfterMs: 0 } : p;
  }
}
const overrides = new ContainerModule(({ rebind }) => {
  rebind(KeepalivePolicyImpl).to(NoDefaultOnWebSocket).inSingletonScope();
});

describe('dependency injection', () => {
  it('contributes each hook through its concrete singleton class', async () => {
    const host = await hostWith();
    const c = host.container;
    expect(c.getAll(StreamFeatureProvider)).toContain(c.get(KeepaliveFeatureImpl));
    expect(c.getAll(IqHandler)).toContain(c.get(KeepaliveNegotiationHandlerImpl));
    expect(c.getAll(StanzaHandler)).toContain(c.get(PongHandlerImpl));
    expect(c.getAll(StreamListener)).toEqual(
      expect.arrayContaining([c.get(KeepaliveStreamListenerImpl), c.get(KeepaliveReadTimeoutListenerImpl)]),
    );
    expect(c.getAll(SessionListener)).toContain(c.get(KeepaliveSessionListenerImpl));
    expect(c.get(KeepaliveReadTimeoutListenerImpl).priority).toBe(Priority.readTimeout.KEEPALIVE);
    expect(c.get(KeepaliveStreamListenerImpl).priority).toBe(Priority.stream.KEEPALIVE);
  });

  it('the README override (rebind(KeepalivePolicyImpl).to(MyImpl) in an overrides module) takes effect', async () => {
    const host = await hostWith({ defaultInterval: 30 }, { overrides: [overrides] });
    expect(host.get(KeepalivePolicyImpl)).toBeInstanceOf(NoDefaultOnWebSocket);
    const ws = await host.connect({ transport: 'websocket', user: 'ws' });
    const tcp = await host.connect({ user: 'tcp' });
    await host.time.advance(30_000);
    expect(ws.stream.keepalivesSent).toBe(0);
    expect(tcp.stream.keepalivesSent).toBe(1);
    await negotiate(tcp, 60); // the base class still sees the config (injected through the base)
    await host.time.advance(60_000);
    expect(tcp.stream.keepalivesSent).toBe(2);
  });
});
