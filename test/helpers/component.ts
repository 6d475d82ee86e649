/**
 * Helpers of the XEP-0114 component tests: a Strand server with the component listener, a raw
 * component client and a stream recorder.
 */
import { createHash } from 'node:crypto';
import { ContainerModule, injectable } from 'inversify';
import {
  StreamListener,
  type CloseInfo,
  type StreamContext,
  type XmlStream,
} from '@strand/core';
import type { PluginDefinition } from '@strand/core';
import type { ServerConfig } from '@strand/server';
import { RawClient } from './raw-client.js';
import { startServer, testConfig, type RunningServer } from './server.js';

export const COMPONENT = 'component.localhost';
export const SECRET = 'secret';
export const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const CLOSE_TAG = '</stream:stream>';

/** A running server that also listens for components. */
export interface ComponentServer extends RunningServer {
  componentPort: number;
  /** `xmpp://127.0.0.1:<component port>` */
  service: string;
  recorder: StreamRecorder;
}

/**
 * Starts a Strand server with `listen.component: 0` and `component.localhost` / `secret` (plus
 * `extraComponents`), recording every component stream's listener events.
 */
export async function startComponentServer(
  overrides: Partial<ServerConfig> = {},
  options: { plugins?: Record<string, PluginDefinition>; modules?: ContainerModule[]; extraComponents?: { domain: string; secret: string }[] } = {},
): Promise<ComponentServer> {
  const recorder = new StreamRecorder();
  const srv = await startServer(
    {
      listen: { ...testConfig().listen, c2sTls: null, http: null, component: 0 },
      components: [{ domain: COMPONENT, secret: SECRET }, ...(options.extraComponents ?? [])],
      ...overrides,
    },
    {
      ...(options.plugins ? { plugins: options.plugins } : {}),
      modules: [recorder.module(), ...(options.modules ?? [])],
    },
  );
  const componentPort = srv.server.ports.component!;
  return { ...srv, componentPort, service: `xmpp://127.0.0.1:${componentPort}`, recorder };
}

/** What happened to one component stream on the server, as its stream listeners saw it. */
export interface RecordedStream {
  stream: XmlStream;
  events: string[];
  closeInfo?: CloseInfo;
}

/** A `StreamListener` (lowest priority) recording the events of component streams. */
export class StreamRecorder {
  readonly streams: RecordedStream[] = [];

  module(): ContainerModule {
    const recorder = this;
    @injectable()
    class RecordingListener implements StreamListener {
      readonly priority = -1000;
      onOpened(stream: XmlStream): void {
        if (stream.kind === 'component') recorder.streams.push({ stream, events: ['opened'] });
      }
      onAuthenticated(ctx: StreamContext): void {
        recorder.of(ctx.stream)?.events.push(`authenticated:${ctx.authenticatedJid?.toString()}`);
      }
      onReadTimeout(ctx: StreamContext): 'pass' {
        recorder.of(ctx.stream)?.events.push('read-timeout');
        return 'pass';
      }
      onClosing(ctx: StreamContext, opts: { reason?: string }): void {
        recorder.of(ctx.stream)?.events.push(`closing:${opts.reason}`);
      }
      onClosed(ctx: StreamContext, info: CloseInfo): void {
        const r = recorder.of(ctx.stream);
        if (!r) return;
        r.events.push(`closed:${info.initiator}`);
        r.closeInfo = info;
      }
    }
    return new ContainerModule(({ bind }) => {
      bind(RecordingListener).toSelf().inSingletonScope();
      bind(StreamListener).toService(RecordingListener);
    });
  }

  of(stream: XmlStream): RecordedStream | undefined {
    return this.streams.find((r) => r.stream === stream);
  }

  /** The authenticated component streams, oldest first. */
  authenticated(): RecordedStream[] {
    return this.streams.filter((r) => r.stream.authenticatedJid !== undefined);
  }
}

/** `hex(SHA1(id + secret))` (XEP-0114 §3). */
export function digest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret).digest('hex');
}

/** A component header for `to`. */
export function componentHeader(to = COMPONENT): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;
}

/** Opens a raw component stream and completes the handshake; returns the stream id. */
export async function rawComponent(port: number, domain = COMPONENT, secret = SECRET): Promise<{ raw: RawClient; id: string }> {
  const raw = await RawClient.connect(port);
  raw.send(componentHeader(domain));
  const text = await raw.waitFor(/<stream:stream [^>]*>/);
  const id = /id='([^']+)'/.exec(text)![1]!;
  raw.send(`<handshake>${digest(id, secret)}</handshake>`);
  await raw.waitFor('<handshake/>');
  return { raw, id };
}

/** Polls `check` every 10 ms until true; fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
