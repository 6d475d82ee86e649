/**
 * DI overrides as documented in README.md: contributions are bound through their concrete
 * classes, so `rebind(IdleCloseSweepImpl)` replaces the policy without touching other listeners.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable, injectFromBase } from 'inversify';
import { StreamListener, type XmlStream } from '@strand/core';
import {
  IdleCloseSweepImpl,
  SessionCloser,
  SessionCloserImpl,
  type GracefulCloseOptions,
  type GracefulCloseOutcome,
} from '../src/index.js';
import { idleHost } from './helpers.js';

// The README example.
@injectable()
@injectFromBase()
class ExemptMonitoring extends IdleCloseSweepImpl {
  protected override limitMs(stream: XmlStream): number {
    return stream.authenticatedJid?.local === 'monitor' ? 0 : super.limitMs(stream);
  }
}
const overrides = new ContainerModule(({ rebind }) => {
  rebind(IdleCloseSweepImpl).to(ExemptMonitoring).inSingletonScope();
});

@injectable()
@injectFromBase()
class RecordingCloser extends SessionCloserImpl {
  readonly calls: string[] = [];
  override closeStream(stream: XmlStream, options?: GracefulCloseOptions): Promise<GracefulCloseOutcome> {
    this.calls.push(`${stream.authenticatedJid?.toString()}:${options?.reason}`);
    return super.closeStream(stream, options);
  }
}

describe('DI overrides', () => {
  it('rebind(IdleCloseSweepImpl) to a subclass changes the policy and keeps the other contributions', async () => {
    const host = await idleHost({ c2sIdle: 60 }, { overrides: [overrides] });
    expect(host.get(IdleCloseSweepImpl)).toBeInstanceOf(ExemptMonitoring);
    const listeners = host.container.getAll(StreamListener);
    expect(listeners.filter((l) => l instanceof IdleCloseSweepImpl)).toHaveLength(1);
    const monitor = await host.connect({ user: 'monitor' });
    const alice = await host.connect({ user: 'alice' });
    await host.time.advance(3_600_000);
    expect(monitor.stream.state).toBe('open');
    expect(alice.stream.state).toBe('closed');
  });

  it('rebind(SessionCloserImpl) is used by the sweep through the SessionCloser token', async () => {
    const host = await idleHost(
      { c2sIdle: 60 },
      {
        overrides: [
          new ContainerModule(({ rebind }) => {
            rebind(SessionCloserImpl).to(RecordingCloser).inSingletonScope();
          }),
        ],
      },
    );
    const alice = await host.connect({ user: 'alice' });
    await host.time.advance(60_000);
    expect(alice.stream.state).toBe('closing');
    const closer = host.get<RecordingCloser>(SessionCloser);
    expect(closer).toBeInstanceOf(RecordingCloser);
    expect(closer.calls).toEqual(['alice@localhost:idle']);
  });
});
