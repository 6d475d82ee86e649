import { describe, expect, it } from '@jest/globals';
import { ContainerModule, inject, injectable } from 'inversify';
import {
  NS,
  OutboundStanzaInterceptor,
  Priority,
  xml,
  type FeatureStage,
  type OutboundContext,
  type SendResult,
  type StreamContext,
} from '@strand/core';
import {
  SmConfig,
  SmFeatureImpl,
  SmSessionKey,
  smSessionCodec,
} from '../src/index.js';
import { bodies, deliver, enabledClient, reconnect, smHost, smState } from './helpers.js';

// ---- the README's override example, verbatim
@injectable() class OnlySm3Feature extends SmFeatureImpl {
  constructor(@inject(SmConfig) config: SmConfig) { super(config); }
  override offer(ctx: StreamContext, stage: FeatureStage) { return super.offer(ctx, stage).filter((el) => el.attrs.xmlns === NS.SM_3); }
}
const overrides = new ContainerModule(({ bind, rebind }) => { bind(OnlySm3Feature).toSelf().inSingletonScope(); rebind(SmFeatureImpl).toService(OnlySm3Feature); });
// ----

describe('DI', () => {
  it('a contribution is overridden by rebinding its concrete class (the README example); other contributions stay', async () => {
    const host = await smHost({}, { overrides: [overrides] });
    const c = await host.connect({ bind: false });
    expect(c.features('post-auth').map(String)).toEqual([`<sm xmlns="urn:xmpp:sm:3"/>`]);
    expect(host.hooks.nonzaHandlers.map((h) => h.xmlns)).toEqual(['urn:xmpp:sm:3', 'urn:xmpp:sm:2']);
    expect(host.hooks.outboundInterceptors.map((h) => h.constructor.name)).toEqual(['SmOutboundQueueImpl']);
  });

  it('records in wire order even when an inner outbound interceptor is slow and sends overlap', async () => {
    @injectable()
    class SlowFirst implements OutboundStanzaInterceptor {
      readonly priority = Priority.outbound.DEFAULT;
      async intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
        if (ctx.stanza.getChildText('body') === 'slow') await new Promise((r) => setTimeout(r, 20));
        return next();
      }
    }
    const host = await smHost(
      { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 },
      { extra: [new ContainerModule(({ bind }) => { bind(SlowFirst).toSelf().inSingletonScope(); bind(OutboundStanzaInterceptor).toService(SlowFirst); })] },
    );
    const { client } = await enabledClient(host);
    const session = client.session!;
    const msg = (b: string) => xml('message', { to: 'alice@localhost/r1', from: 'bob@localhost/b' }, xml('body', {}, b));
    await Promise.all([session.send(msg('slow')), session.send(msg('fast'))]);
    expect(bodies(client.sentStanzas())).toEqual(['slow', 'fast']);
    expect(bodies(smState(client).queue.toArray().map((q) => q.stanza))).toEqual(['slow', 'fast']);
  });

  it('with no other outbound interceptor the session lock does without AsyncLocalStorage', async () => {
    const host = await smHost({ ackRequestEvery: 1000, ackRequestQuietMs: 60_000 });
    const { client } = await enabledClient(host);
    expect(smState(client).lock.reentrant).toBe(false);
    const session = client.session!;
    const msg = (b: string) => xml('message', { to: 'alice@localhost/r1', from: 'bob@localhost/b' }, xml('body', {}, b));
    await Promise.all(['1', '2', '3'].map((b) => session.send(msg(b))));
    expect(bodies(smState(client).queue.toArray().map((q) => q.stanza))).toEqual(['1', '2', '3']);
  });

  it('an inner outbound interceptor may await a send to the same session (re-entrant lock, no deadlock)', async () => {
    @injectable()
    class Echo implements OutboundStanzaInterceptor {
      readonly priority = Priority.outbound.DEFAULT;
      async intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
        if (ctx.stanza.getChildText('body') === 'ping') {
          await new Promise((r) => setImmediate(r));
          await ctx.session.send(xml('message', { to: 'alice@localhost/r1', from: 'localhost' }, xml('body', {}, 'notice')));
        }
        return next();
      }
    }
    const host = await smHost(
      { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 },
      { extra: [new ContainerModule(({ bind }) => { bind(Echo).toSelf().inSingletonScope(); bind(OutboundStanzaInterceptor).toService(Echo); })] },
    );
    const { client } = await enabledClient(host);
    expect(smState(client).lock.reentrant).toBe(true);
    const session = client.session!;
    await session.send(xml('message', { to: 'alice@localhost/r1', from: 'bob@localhost/b' }, xml('body', {}, 'ping')));
    expect(bodies(client.sentStanzas())).toEqual(['notice', 'ping']);
    expect(bodies(smState(client).queue.toArray().map((q) => q.stanza))).toEqual(['notice', 'ping']);
  });

  it('<enabled/> is written after sends already in flight (uncounted) and before later ones (counted)', async () => {
    @injectable()
    class Slow implements OutboundStanzaInterceptor {
      readonly priority = Priority.outbound.DEFAULT;
      async intercept(_ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
        await new Promise((r) => setTimeout(r, 10));
        return next();
      }
    }
    const host = await smHost(
      { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 },
      { extra: [new ContainerModule(({ bind }) => { bind(Slow).toSelf().inSingletonScope(); bind(OutboundStanzaInterceptor).toService(Slow); })] },
    );
    const client = await host.connect();
    client.clearSent();
    const session = client.session!;
    const msg = (b: string) => xml('message', { to: 'alice@localhost/r1', from: 'bob@localhost/b' }, xml('body', {}, b));
    const before = session.send(msg('in-flight'));
    const enabling = client.receive(`<enable xmlns='urn:xmpp:sm:3'/>`);
    await new Promise((r) => setImmediate(r));
    const after = session.send(msg('after'));
    await Promise.all([before, enabling, after]);
    expect(client.sent().map((e) => e.getChildText('body') ?? e.name)).toEqual(['in-flight', 'enabled', 'after']);
    expect(smState(client).queue.sent).toBe(1);
  });

  it('the session state round-trips through its slot codec (cluster hand-over)', async () => {
    const host = await smHost({ ackRequestEvery: 1000, ackRequestQuietMs: 60_000 });
    const { client, id } = await enabledClient(host);
    await client.receive(`<presence/>`);
    for (const b of ['1', '2', '3']) await deliver(host, 'alice@localhost/r1', b);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`);
    const state = smState(client);
    const json = JSON.parse(JSON.stringify(SmSessionKey.codec.encode(state)));
    const copy = smSessionCodec.decode(json);
    expect(copy.id).toBe(id);
    expect(copy.inbound).toBe(1);
    expect(copy.queue.acked).toBe(1);
    expect(copy.queue.sent).toBe(3);
    expect(copy.phase).toBe('hibernating');
    expect(bodies(copy.queue.toArray().map((q) => q.stanza))).toEqual(['2', '3']);
    expect(copy.queue.toArray().map((q) => q.stanza.toString())).toEqual(state.queue.toArray().map((q) => q.stanza.toString()));
    expect(() => smSessionCodec.decode({ v: 2 })).toThrow();
  });

  it('exposes the documented metrics', async () => {
    const host = await smHost({ ackRequestEvery: 1000, ackRequestQuietMs: 60_000, resumeTimeout: 10 });
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    const bad = await reconnect(host);
    await bad.receive(`<resume xmlns='urn:xmpp:sm:3' previd='nope' h='0'/>`);
    await c2.dropTransport();
    await host.time.advance(10_000);
    const text = await host.metrics.expose();
    for (const line of [
      'strand_sm_enabled_total{version="sm3",resume="true"} 1',
      'strand_sm_resumed_total{version="sm3"} 1',
      'strand_sm_resume_failed_total{reason="unknown"} 1',
      'strand_sm_expired_total 1',
      'strand_sm_spilled_total{path="route"} 1',
      'strand_sm_queue_depth 0',
      'strand_sm_hibernating_sessions 0',
    ]) {
      expect(text).toContain(line);
    }
  });
});
