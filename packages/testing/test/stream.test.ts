import { describe, it, expect } from '@jest/globals';
import { xml, type CloseInfo, type StreamContext, type StreamListener } from '@strand/core';
import { FakeStream, FakeTime, isCloseTag, streamErrorCondition, TestLogger } from '@strand/testing';

function recorder(name: string, priority: number, log: string[], extra: Partial<StreamListener> = {}): StreamListener {
  return {
    priority,
    onClosing: (ctx: StreamContext) => {
      log.push(`${name}:closing:${ctx.stream.state}`);
    },
    onClosed: (_ctx: StreamContext, info: CloseInfo) => {
      log.push(`${name}:closed:${info.initiator}:${info.handshakeTimedOut}`);
    },
    ...extra,
  };
}

describe('FakeStream', () => {
  it('records nonzas, refuses stanzas on writeNonza, tracks write time', async () => {
    const time = new FakeTime({ start: 0 });
    const s = new FakeStream({ time });
    await time.advance(42);
    expect(s.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }))).toBe(true);
    expect(s.written.map((e) => e.name)).toEqual(['r']);
    expect(s.lastWriteAt).toBe(42);
    expect(() => s.writeNonza(xml('message', { to: 'a@b' }))).toThrow(/Session.send/);
    expect(s.writeStanza(xml('message', { to: 'a@b' }))).toBe(true);
  });

  it('copies elements at write time (like serialisation)', () => {
    const s = new FakeStream({ time: new FakeTime() });
    const el = xml('a', { xmlns: 'urn:xmpp:sm:3', h: '1' });
    s.writeNonza(el);
    el.attrs.h = '2';
    expect(s.written[0]!.attrs.h).toBe('1');
  });

  it('counts whitespace keepalives on TCP and ping frames on WebSocket', async () => {
    const time = new FakeTime({ start: 0 });
    const tcp = new FakeStream({ time });
    const ws = new FakeStream({ time, transport: 'websocket' });
    expect(tcp.supportsWhitespaceKeepalive).toBe(true);
    expect(ws.supportsWhitespaceKeepalive).toBe(false);
    await time.advance(5);
    tcp.sendKeepalive();
    ws.sendKeepalive();
    expect(tcp.keepalivesSent).toBe(1);
    expect(ws.keepalivesSent).toBe(1);
    expect(tcp.written).toHaveLength(0);
    expect(tcp.lastWriteAt).toBe(5);
  });

  it('close(): onClosing by priority may still write, then error + close tag, then every write is refused', async () => {
    const time = new FakeTime({ start: 0 });
    const log: string[] = [];
    let lateWrite: boolean | undefined;
    const s = new FakeStream({
      time,
      closeHandshakeMs: 5_000,
      listeners: [
        recorder('low', 1, log),
        recorder('high', 100, log, {
          onClosing: (ctx) => {
            log.push(`high:closing:${ctx.stream.state}`);
            lateWrite = ctx.stream.writeNonza(xml('a', { xmlns: 'urn:xmpp:sm:3', h: '3' }));
          },
        }),
      ],
    });
    const closing = s.close({ error: { condition: 'connection-timeout' }, reason: 'idle' });
    await time.flush();
    expect(s.state).toBe('closing');
    expect(lateWrite).toBe(true);
    expect(log).toEqual(['high:closing:closing', 'low:closing:closing']);
    expect(s.written.map((e) => e.name)).toEqual(['a', 'stream:error', '/stream:stream']);
    expect(streamErrorCondition(s.written[1]!)).toBe('connection-timeout');
    expect(isCloseTag(s.written[2]!)).toBe(true);
    expect(s.closeTagWritten).toBe(true);

    // After the close tag: nothing more is written.
    expect(s.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }))).toBe(false);
    expect(s.writeStanza(xml('message', { to: 'a@b' }))).toBe(false);
    s.sendKeepalive();
    expect(s.keepalivesSent).toBe(0);
    expect(s.written).toHaveLength(3);

    // The peer answers with its close tag: handshake complete.
    await s.peerClose();
    await closing;
    const info = await s.closed;
    expect(info).toEqual({
      initiator: 'server',
      error: { condition: 'connection-timeout' },
      handshakeTimedOut: false,
      endSession: true,
      reason: 'idle',
    });
    expect(s.state).toBe('closed');
    expect(log.slice(2)).toEqual(['high:closed:server:false', 'low:closed:server:false']);
  });

  it('close() is idempotent', async () => {
    const time = new FakeTime({ start: 0 });
    let closings = 0;
    const s = new FakeStream({ time, listeners: [{ priority: 0, onClosing: () => void closings++ }] });
    const a = s.close({ timeoutMs: 100 });
    const b = s.close({ timeoutMs: 100 });
    await time.advance(100);
    await Promise.all([a, b]);
    expect(closings).toBe(1);
    expect(s.written.filter(isCloseTag)).toHaveLength(1);
  });

  it('destroys the transport when the peer does not close within timeoutMs (default from options)', async () => {
    const time = new FakeTime({ start: 0 });
    const s = new FakeStream({ time, closeHandshakeMs: 5_000 });
    let done = false;
    void s.close({ endSession: false }).then(() => {
      done = true;
    });
    await time.advance(4_999);
    expect(done).toBe(false);
    expect(s.state).toBe('closing');
    await time.advance(1);
    expect(done).toBe(true);
    expect(s.closeInfo).toEqual({ initiator: 'server', handshakeTimedOut: true, endSession: false });
    expect(s.written.map((e) => e.name)).toEqual(['/stream:stream']); // nothing after the timeout
  });

  it('a peer-initiated close runs onClosing, is answered with our close tag and ends the session', async () => {
    const time = new FakeTime({ start: 0 });
    const log: string[] = [];
    const s = new FakeStream({ time, listeners: [recorder('l', 0, log)] });
    await s.peerClose();
    expect(log).toEqual(['l:closing:closing', 'l:closed:peer:false']);
    expect(s.closeInfo).toMatchObject({ initiator: 'peer', endSession: true });
    expect(s.written.map((e) => e.name)).toEqual(['/stream:stream']);
  });

  it('close() during a peer-initiated close writes nothing more', async () => {
    const time = new FakeTime({ start: 0 });
    let closings = 0;
    const s = new FakeStream({ time, listeners: [{ priority: 0, onClosing: () => void closings++ }] });
    const peer = s.peerClose();
    await s.close({ error: { condition: 'system-shutdown' } });
    await peer;
    expect(closings).toBe(1); // the peer-initiated close's own onClosing, not a second one
    expect(s.written.map((e) => e.name)).toEqual(['/stream:stream']);
    expect(s.closeInfo?.initiator).toBe('peer');
  });

  it('destroy(): transport loss without writing anything, endSession false', async () => {
    const time = new FakeTime({ start: 0 });
    const s = new FakeStream({ time });
    s.destroy('reset by peer');
    const info = await s.closed;
    expect(info).toEqual({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason: 'reset by peer' });
    expect(s.written).toHaveLength(0);
    expect(s.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }))).toBe(false);
  });

  it('runs onReadTimeout by priority until one handles it, after the configured silence', async () => {
    const time = new FakeTime({ start: 0 });
    const log: string[] = [];
    const s = new FakeStream({
      time,
      readTimeoutMs: 300_000,
      listeners: [
        { priority: 100, onReadTimeout: () => (log.push('sm'), 'pass') },
        { priority: 50, onReadTimeout: () => (log.push('keepalive'), 'handled') },
        { priority: 10, onReadTimeout: () => (log.push('never'), 'pass') },
      ],
    });
    await time.advance(200_000);
    s.markRead('whitespace'); // silence restarts at 200 s
    await time.advance(299_999);
    expect(log).toEqual([]);
    await time.advance(1);
    expect(log).toEqual(['sm', 'keepalive']);
    expect(time.pendingTimers()).toBe(0); // host timers are internal
  });

  it('logs a failing listener and still runs the others', async () => {
    const time = new FakeTime({ start: 0 });
    const logs = new TestLogger();
    const log: string[] = [];
    const s = new FakeStream({
      time,
      logger: logs,
      listeners: [
        {
          priority: 10,
          onClosed: () => {
            throw new Error('listener bug');
          },
        },
        recorder('ok', 0, log),
      ],
    });
    s.destroy();
    await s.closed;
    expect(log).toEqual(['ok:closed:transport:false']);
    expect(logs.has('error', 'listener failed')).toBe(true);
  });
});
