/**
 * The delivery promise, checked against random histories (fast-check): a model client with
 * stream management receives messages while its transport is dropped, resumed, closed, acked or
 * left silent at random; time passes (quiet requests, ack timeouts, expiry). At the end every
 * message the server accepted was received by the client or is in offline storage, exactly once,
 * except messages the client received but had not acknowledged when a session ended (XEP-0198 §4:
 * those are the unavoidable duplicates); within one session the client receives messages in order.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { xml, type Element } from '@strand/core';
import type { TestClient, TestHost } from '@strand/testing';
import { inc32 } from '../src/counters.js';
import { deliver, smHost } from './helpers.js';

type Action =
  | { kind: 'msg'; count: number }
  | { kind: 'ack' }
  | { kind: 'drop' }
  | { kind: 'resume' }
  | { kind: 'close' }
  | { kind: 'wait'; ms: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant<'msg'>('msg'), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.constant<Action>({ kind: 'ack' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'drop' }) },
  { weight: 3, arbitrary: fc.constant<Action>({ kind: 'resume' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'close' }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant<'wait'>('wait'), ms: fc.integer({ min: 0, max: 45_000 }) }) },
);

/** The model client. */
class Device {
  client: TestClient | undefined;
  id: string | undefined;
  /** Stanzas received in the current SM session (the client's own h). */
  hIn = 0;
  /** Every message body received, in order. */
  readonly received: number[] = [];
  /** Index in `received` where the current SM session began. */
  sessionStart = 0;
  /** Index in `received` up to which the server has processed our acks. */
  ackedUpTo = 0;
  /** Messages received but unacked when a session ended: allowed duplicates. */
  readonly atRisk = new Set<number>();
  readonly sessionSegments: number[][] = [];
  private cursor = 0;
  private endedSeen = 0;

  constructor(private readonly host: TestHost) {}

  /** Reads what the server wrote to the current connection. */
  async read(): Promise<void> {
    const c = this.client;
    if (!c) return;
    const w = c.stream.written;
    while (this.cursor < w.length) this.handle(w[this.cursor++]!);
    if (c.stream.state === 'closing') await c.closeFromPeer(); // complete a server-initiated close
    if (c.stream.state === 'closed') this.client = undefined;
  }

  private handle(el: Element): void {
    if (el.name === 'message') {
      this.received.push(Number(el.getChildText('body')));
      this.hIn = inc32(this.hIn);
    }
  }

  /** Notices sessions that ended (expiry, server close) and records the at-risk messages. */
  noticeEnds(): void {
    const ended = this.host.sessions.endedSessions.length;
    if (ended === this.endedSeen) return;
    this.endedSeen = ended;
    for (const n of this.received.slice(this.ackedUpTo)) this.atRisk.add(n);
    this.ackedUpTo = this.received.length;
    this.id = undefined;
  }

  async connectFresh(): Promise<void> {
    this.sessionSegments.push(this.received.slice(this.sessionStart));
    const c = await this.host.connect({ user: 'alice', resource: 'r1', available: true });
    this.attach(c);
    await c.receive(xml('enable', { xmlns: 'urn:xmpp:sm:3', resume: 'true' }));
    const enabled = c.stream.written.find((e) => e.name === 'enabled');
    expect(enabled).toBeDefined();
    this.id = enabled!.attrs.id as string;
    this.hIn = 0;
    this.sessionStart = this.received.length;
    this.ackedUpTo = this.received.length;
    await this.read();
  }

  private attach(c: TestClient): void {
    this.client = c;
    this.cursor = c.stream.written.length;
  }

  async step(a: Action, nextBody: () => number): Promise<void> {
    switch (a.kind) {
      case 'msg':
        for (let i = 0; i < a.count; i++) await deliver(this.host, 'alice@localhost/r1', String(nextBody()));
        break;
      case 'ack':
        if (this.client) {
          await this.client.receive(`<a xmlns='urn:xmpp:sm:3' h='${this.hIn}'/>`);
          this.ackedUpTo = this.received.length;
        }
        break;
      case 'drop':
        if (this.client) {
          await this.client.dropTransport();
          this.client = undefined;
        }
        break;
      case 'resume':
        if (this.client) break;
        this.noticeEnds();
        if (this.id === undefined) {
          await this.connectFresh();
          break;
        }
        {
          const c = await this.host.connect({ user: 'alice', bind: false });
          this.attach(c);
          await c.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${this.id}' h='${this.hIn}'/>`);
          const first = c.stream.written[this.cursor];
          if (first?.name === 'resumed') {
            this.cursor++;
            this.ackedUpTo = this.received.length; // the server processed our h
          } else {
            expect(first?.name).toBe('failed');
            this.noticeEnds();
            this.id = undefined;
            this.client = undefined;
            await c.closeFromPeer();
            await this.connectFresh();
          }
        }
        break;
      case 'close':
        if (this.client) {
          await this.client.closeFromPeer();
          this.client = undefined;
          this.noticeEnds();
        }
        break;
      case 'wait':
        await this.host.time.advance(a.ms);
        break;
    }
    await this.read();
    this.noticeEnds();
  }

  /** Ends cleanly: acknowledges everything and closes, or lets a hibernating session expire. */
  async finish(): Promise<void> {
    await this.read();
    if (this.client) {
      await this.client.receive(`<a xmlns='urn:xmpp:sm:3' h='${this.hIn}'/>`);
      this.ackedUpTo = this.received.length;
      await this.client.closeFromPeer();
      this.client = undefined;
    } else {
      await this.host.time.advance(120_000);
    }
    this.noticeEnds();
    this.sessionSegments.push(this.received.slice(this.sessionStart));
  }
}

const stats = { runs: 0, messages: 0, received: 0, stored: 0, resumed: 0, expired: 0, atRisk: 0, sessions: 0 };

describe('delivery promise (random histories)', () => {
  it('every accepted message is delivered or stored exactly once; duplicates only where XEP-0198 §4 makes them unavoidable', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (actions) => {
        const host = await smHost({
          resumeTimeout: 60,
          maxResumeTimeout: 60,
          maxQueue: 10,
          hardQueueLimit: 10_000,
          ackRequestEvery: 3,
          ackRequestQuietMs: 200,
          ackTimeout: 30,
          ackDelayed: 20,
        });
        const device = new Device(host);
        await device.connectFresh();
        let sent = 0;
        for (const a of actions) await device.step(a, () => ++sent);
        await device.finish();

        const stored = (await host.offline.list('alice@localhost')).map((m) => Number(m.stanza.getChildText('body')));
        const all = [...device.received, ...stored];
        // nothing lost
        for (let n = 1; n <= sent; n++) expect(all).toContain(n);
        // the client never gets a message twice (acks and resumption are exact)
        expect(new Set(device.received).size).toBe(device.received.length);
        // storage holds each message at most once
        expect(new Set(stored).size).toBe(stored.length);
        // received and stored only for messages unacked when their session ended
        for (const n of stored) if (device.received.includes(n)) expect(device.atRisk.has(n)).toBe(true);
        // in order within each SM session
        for (const seg of device.sessionSegments) expect([...seg].sort((x, y) => x - y)).toEqual(seg);
        // no stanza was bounced: storage never refused
        expect(host.routed.filter((r) => r.stanza.attrs.type === 'error')).toEqual([]);
        stats.runs++;
        stats.messages += sent;
        stats.received += device.received.length;
        stats.stored += stored.length;
        stats.atRisk += device.atRisk.size;
        stats.sessions += device.sessionSegments.length;
        const text = await host.metrics.expose();
        stats.resumed += Number(/strand_sm_resumed_total\{version="sm3"\} (\d+)/.exec(text)?.[1] ?? 0);
        stats.expired += Number(/strand_sm_expired_total (\d+)/.exec(text)?.[1] ?? 0);
      }),
      { numRuns: 150 },
    );
    // the generator really exercises resumption, expiry and spilling
    expect(stats.resumed).toBeGreaterThan(20);
    expect(stats.expired).toBeGreaterThan(5);
    expect(stats.stored).toBeGreaterThan(20);
    expect(stats.received).toBeGreaterThan(200);
  });
});
