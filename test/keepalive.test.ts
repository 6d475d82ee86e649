/**
 * @strand/keepalive over real sockets: the feature on the wire, negotiation with @xmpp/client and
 * the package's client helper, spaces on the wire, the silence limit after negotiation, and the
 * ping-first path for clients that never negotiate. Intervals are 1–2 s; every wait is bounded.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { client, xml, type Client } from '@xmpp/client';
import keepalive, { negotiateKeepalive, watchKeepaliveFeature, type NegotiatedKeepalive } from '@strand/keepalive';
import { startServer, type RunningServer } from './helpers/server.js';
import { delay, header, RawClient } from './helpers/raw-client.js';

const KA = 'urn:xmpp:keepalive:0';
const plugins = { '@strand/keepalive': keepalive };

/** Starts a server with the keepalive plugin section `ka` and host `timeouts.read` (seconds). */
function serverWith(ka: Record<string, unknown>, read = 300): Promise<RunningServer> {
  return startServer(
    { timeouts: { preAuth: 60, closeHandshake: 2, read }, plugins: { '@strand/keepalive': ka } },
    { plugins },
  );
}

/** SASL PLAIN and the stream restart, without binding a resource. */
async function authenticate(raw: RawClient, user: string): Promise<void> {
  raw.send(header());
  await raw.waitFor(/<\/stream:features>/);
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0secret`).toString('base64')}</auth>`);
  await raw.waitFor(/<success/);
  const mark = raw.received.length;
  raw.send(header());
  await raw.waitFor(new RegExp(`[\\s\\S]{${mark}}[\\s\\S]*<\\/stream:features>`));
}

/** Sends the XEP-0304 negotiation iq and resolves with the server's reply (serialised). */
async function negotiateRaw(raw: RawClient, value: number | string, id: string): Promise<string> {
  const mark = raw.received.length;
  raw.send(`<iq type='set' id='${id}'><keepalive xmlns='${KA}'><interval>${value}</interval></keepalive></iq>`);
  const reply = new RegExp(`<iq [^>]*id="${id}"[^>]*(?:/>|>[\\s\\S]*?</iq>)`);
  await raw.waitFor(new RegExp(`[\\s\\S]{${mark}}[\\s\\S]*${reply.source}`));
  return reply.exec(raw.since(mark))![0];
}

/** Resolves when `p` settles or after `ms` (bounded wait; the timer is cleared either way). */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.then(() => undefined), new Promise<void>((r) => (t = setTimeout(r, ms)))]).finally(() => clearTimeout(t));
}

/** Answers every XEP-0199 ping the server sends with an iq result; returns the ids answered. */
function autoPong(raw: RawClient): string[] {
  const answered: string[] = [];
  const timer = setInterval(() => {
    for (const m of raw.received.matchAll(/<iq [^>]*type="get"[^>]*>\s*<ping xmlns="urn:xmpp:ping"\/>/g)) {
      const id = /id="([^"]+)"/.exec(m[0])![1]!;
      if (answered.includes(id) || raw.closed) continue;
      answered.push(id);
      raw.send(`<iq type='result' id='${id}' to='localhost'/>`);
    }
  }, 50);
  void raw.ended.then(() => clearInterval(timer));
  afterCleanups.push(() => clearInterval(timer));
  return answered;
}

let srv: RunningServer | undefined;
const raws: RawClient[] = [];
const afterCleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of afterCleanups.splice(0)) await f();
  for (const r of raws.splice(0)) r.destroy();
  await srv?.stop();
  srv = undefined;
});

async function raw(): Promise<RawClient> {
  const r = await RawClient.connect(srv!.ports.c2s);
  raws.push(r);
  return r;
}

describe('@strand/keepalive over real sockets', () => {
  it('advertises the feature post-auth, byte for byte; negotiation errors and the before-bind error', async () => {
    srv = await serverWith({ minInterval: 1, maxInterval: 5, defaultInterval: 0 });
    const r = await raw();
    await authenticate(r, 'alice');
    const postAuth = r.received.slice(r.received.lastIndexOf('<stream:features'));
    expect(postAuth).toContain(`<keepalive xmlns="${KA}"><interval min="1" max="5"/></keepalive>`);
    expect(r.received.slice(0, r.received.indexOf('<success')).includes(KA)).toBe(false); // not pre-auth

    // Before bind: the host answers stanzas with a not-allowed stanza error (RFC 6120 §7.1).
    const beforeBind = await negotiateRaw(r, 2, 'early');
    expect(beforeBind).toContain('type="error"');
    expect(beforeBind).toContain('<not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');

    r.send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>`);
    await r.waitFor(/<jid>/);
    const zero = await negotiateRaw(r, 0, 'z');
    expect(zero).toMatch(/type="error"/);
    expect(zero).toContain('<error type="cancel"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(await negotiateRaw(r, 6, 'big')).toContain('<not-acceptable');
    expect(await negotiateRaw(r, 'soon', 'nan')).toContain('<error type="modify"><bad-request');
    expect(await negotiateRaw(r, 5, 'ok')).toBe(`<iq type="result" id="ok" to="alice@localhost/raw"/>`);
  });

  it('@xmpp/client with the helper negotiates 1 s, sees the server spaces on the wire, and stays online past the silence limit', async () => {
    srv = await serverWith({ minInterval: 1, maxInterval: 5, defaultInterval: 0, silenceFactor: 2 });
    const xmpp: Client = client({
      service: `xmpp://localhost:${srv.ports.c2s}`,
      domain: 'localhost',
      resource: 'ka',
      username: 'alice',
      password: 'secret',
    });
    xmpp.reconnect.stop();
    xmpp.on('error', () => undefined);
    const feature = watchKeepaliveFeature(xmpp);
    let ka: NegotiatedKeepalive | undefined;
    afterCleanups.push(async () => {
      ka?.stop();
      await within(xmpp.stop().catch(() => undefined), 2000);
    });
    await xmpp.start();
    expect((xmpp as unknown as { isSecure(): boolean }).isSecure()).toBe(true); // STARTTLS: spaces arrive as TLS records
    expect(feature.range).toEqual({ min: 1, max: 5 });

    const chunks: string[] = [];
    (xmpp.socket as unknown as NodeJS.EventEmitter).on('data', (d: Buffer) => chunks.push(d.toString('utf8')));
    await expect(negotiateKeepalive(xmpp, 9)).rejects.toMatchObject({ condition: 'not-acceptable' });
    ka = await negotiateKeepalive(xmpp, feature.range!.min);
    const since = Date.now();
    await delay(3500); // > silenceFactor × interval (2 s): only our spaces keep the stream alive
    const spaces = chunks.filter((c) => c === ' ').length;
    expect(spaces).toBeGreaterThanOrEqual(2);
    expect(ka.sender!.sent).toBeGreaterThanOrEqual(2);
    expect(xmpp.status).toBe('online');
    const pong = await xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 3000);
    expect(pong.attrs.type).toBe('result');
    expect(Date.now() - since).toBeGreaterThan(3000);
  });

  it('a raw client that negotiated and goes silent is dropped after the silence limit, without a handshake', async () => {
    srv = await serverWith({ minInterval: 1, maxInterval: 5, defaultInterval: 0, silenceFactor: 2 });
    const r = await raw();
    await r.login('alice');
    expect(await negotiateRaw(r, 1, 'n1')).toContain('type="result"');
    const silentFrom = Date.now();
    const mark = r.received.length;
    await within(r.ended, 6000);
    const silentFor = Date.now() - silentFrom;
    expect(r.closed).toBe(true);
    expect(silentFor).toBeGreaterThanOrEqual(2000); // not before 2 × 1 s of silence
    expect(silentFor).toBeLessThan(4500); // checked on a 1-second grid
    const tail = r.since(mark);
    expect(tail).toMatch(/^ +$/); // only the server's spaces, then the socket was destroyed
    expect(tail).not.toContain('</stream:stream>');
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/strand_keepalive_dead_peers_total\{reason="silence"\} 1/);
  });

  it('a raw client that never negotiated stays silent but answers pings: never dropped', async () => {
    srv = await serverWith({ defaultInterval: 1, pingTimeout: 1 }, 1);
    const r = await raw();
    await r.login('bob');
    const answered = autoPong(r);
    await delay(6500);
    expect(r.closed).toBe(false);
    expect(answered.length).toBeGreaterThanOrEqual(2); // probed repeatedly (read timeout 1 s, checked each second)
    expect(r.received).toMatch(/<iq type="get" id="ka-[^"]+" from="localhost" to="bob@localhost\/raw"><ping xmlns="urn:xmpp:ping"\/><\/iq>/);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/strand_keepalive_pings_answered_total\{type="result"\} [1-9]/);
    expect(metrics).not.toMatch(/strand_keepalive_dead_peers_total\{/);
  });

  it('a raw client that never negotiated and does not answer: dropped only after the unanswered ping', async () => {
    srv = await serverWith({ defaultInterval: 0, pingTimeout: 1 }, 1);
    const r = await raw();
    await r.login('carol');
    const mark = r.received.length;
    const since = Date.now();
    await within(r.ended, 6000);
    expect(r.closed).toBe(true);
    expect(Date.now() - since).toBeGreaterThanOrEqual(2000); // read timeout (1 s) + pingTimeout (1 s)
    expect(r.since(mark)).toMatch(/^<iq type="get" id="ka-[^"]+" from="localhost" to="carol@localhost\/raw"><ping xmlns="urn:xmpp:ping"\/><\/iq>$/);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/strand_keepalive_pings_unanswered_total 1/);
  });
});
