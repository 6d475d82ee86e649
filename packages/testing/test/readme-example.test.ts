/** The README example, with the hypothetical plugin written out, so the README stays true. */
import { describe, it, expect } from '@jest/globals';
import { ContainerModule, inject, injectable } from 'inversify';
import { z } from 'zod';
import {
  Clock,
  definePlugin,
  NonzaHandler,
  Scheduler,
  StreamListener,
  xml,
  type Clock as ClockT,
  type Element,
  type Scheduler as SchedulerT,
  type StreamContext,
  type Timer,
  type XmlStream,
} from '@strand/core';
import { TestHost, isCloseTag, streamErrorCondition } from '@strand/testing';

const IdleSeconds = Symbol('IdleSeconds');

@injectable()
class PingHandler implements NonzaHandler {
  readonly xmlns = 'urn:example';
  readonly names = ['ping'];
  handle(ctx: StreamContext, _el: Element): void {
    ctx.stream.writeNonza(xml('pong', { xmlns: 'urn:example' }));
  }
}

/** Closes a stream that has read nothing for `idleSeconds`. */
@injectable()
class IdleCloser implements StreamListener {
  readonly priority = 400;
  private readonly timers = new Map<XmlStream, Timer>();
  constructor(
    @inject(Scheduler) private readonly scheduler: SchedulerT,
    @inject(Clock) private readonly clock: ClockT,
    @inject(IdleSeconds) private readonly idleSeconds: number,
  ) {}
  onOpened(stream: XmlStream): void {
    if (this.timers.has(stream)) return; // runs again after the stream restart
    const idleMs = this.idleSeconds * 1000;
    const check = () => {
      if (stream.state === 'open' && this.clock.now() - stream.lastReadAt >= idleMs) {
        void stream.close({ error: { condition: 'connection-timeout' }, reason: 'idle' });
      }
    };
    this.timers.set(stream, this.scheduler.setInterval(check, 1000));
  }
  onClosed(ctx: StreamContext): void {
    this.timers.get(ctx.stream)?.cancel();
    this.timers.delete(ctx.stream);
  }
}

const examplePlugin = definePlugin({
  name: 'example',
  configKey: 'example',
  configSchema: z.object({ idleSeconds: z.number().int().min(1).default(300) }).strict(),
  module: (config) =>
    new ContainerModule(({ bind }) => {
      bind(IdleSeconds).toConstantValue(config.idleSeconds);
      bind(PingHandler).toSelf().inSingletonScope();
      bind(NonzaHandler).toService(PingHandler);
      bind(IdleCloser).toSelf().inSingletonScope();
      bind(StreamListener).toService(IdleCloser);
    }),
});

describe('README example', () => {
  it('answers pings, then closes an idle stream with the handshake', async () => {
    const host = await TestHost.create({
      plugins: [[examplePlugin, { idleSeconds: 60 }]], // validated with the plugin's zod schema
    });
    const client = await host.connect({ user: 'alice', resource: 'phone' }); // authenticated + bound

    await client.receive(`<ping xmlns='urn:example'/>`);
    expect((await client.nextSent()).name).toBe('pong');

    await host.time.advance(60_000); // fires due timers in order, awaiting async callbacks
    expect(streamErrorCondition(await client.nextSent())).toBe('connection-timeout');
    expect(isCloseTag(await client.nextSent())).toBe(true);
    expect(client.stream.state).toBe('closing'); // writes refused, reads continue

    await client.closeFromPeer(); // the peer answers </stream:stream>
    expect(client.session?.state).toBe('ended');
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
  });
});
