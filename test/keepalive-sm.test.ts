/**
 * @strand/keepalive with @strand/stream-management over real sockets: a client that negotiated
 * XEP-0304 and enabled resumption goes silent → dead peer → the transport is destroyed → SM
 * hibernates the session → the client resumes on a new connection and the negotiated interval is
 * still in force there (XEP-0304 §4 note 1): spaces at 1 s and the silence limit again.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import keepalive from '@strand/keepalive';
import streamManagement from '@strand/stream-management';
import { startServer, type RunningServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';

const KA = 'urn:xmpp:keepalive:0';
const SM = 'urn:xmpp:sm:3';

function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.then(() => undefined), new Promise<void>((r) => (t = setTimeout(r, ms)))]).finally(() => clearTimeout(t));
}

let srv: RunningServer | undefined;
const raws: RawClient[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await srv?.stop();
  srv = undefined;
});

async function connect(): Promise<RawClient> {
  const r = await RawClient.connect(srv!.ports.c2s);
  raws.push(r);
  return r;
}

/** Waits until the silent client is dropped; returns how long it was silent (ms). */
async function silentUntilDropped(r: RawClient): Promise<number> {
  const from = Date.now();
  await within(r.ended, 7000);
  expect(r.closed).toBe(true);
  return Date.now() - from;
}

describe('@strand/keepalive + @strand/stream-management over real sockets', () => {
  it('a negotiated client dropped for silence hibernates, resumes, and keeps its interval', async () => {
    srv = await startServer(
      {
        plugins: {
          '@strand/keepalive': { minInterval: 1, maxInterval: 5, defaultInterval: 0, silenceFactor: 3 },
          '@strand/stream-management': {},
        },
      },
      { plugins: { '@strand/keepalive': keepalive, '@strand/stream-management': streamManagement } },
    );
    const r1 = await connect();
    await r1.login('alice');
    r1.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await r1.waitFor(/<enabled [^>]*\/>/);
    const smId = /<enabled [^>]*id="([^"]+)"/.exec(enabled)![1]!;
    r1.send(`<iq type='set' id='ka1'><keepalive xmlns='${KA}'><interval>1</interval></keepalive></iq>`);
    await r1.waitFor(/<iq type="result" id="ka1"/);
    const mark1 = r1.received.length;

    const silent1 = await silentUntilDropped(r1);
    // 3 × 1 s of silence counted by the server from its last read (our iq), which precedes the
    // start of this measurement by up to the iq round trip: allow that much on a loaded machine.
    expect(silent1).toBeGreaterThanOrEqual(2500);
    expect(silent1).toBeLessThan(5000);
    expect(r1.since(mark1)).toContain(' '); // the server's spaces (defaultInterval is 0: only the negotiated interval sends them)
    expect(r1.since(mark1)).not.toContain('</stream:stream>'); // destroyed, no handshake

    // Resume on a new connection (XEP-0198 §4).
    const r2 = await connect();
    await r2.authenticate('alice');
    r2.send(`<resume xmlns='${SM}' previd='${smId}' h='0'/>`);
    await r2.waitFor(/<resumed [^>]*\/>/);
    const mark2 = r2.received.length;

    // Same interval on the new stream: spaces, and the XEP-0304 silence limit (which never applies
    // to a stream without a negotiated interval).
    const silent2 = await silentUntilDropped(r2);
    expect(silent2).toBeGreaterThanOrEqual(2500);
    expect(silent2).toBeLessThan(5000);
    expect(r2.since(mark2)).toMatch(/ /);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/strand_keepalive_dead_peers_total\{reason="silence"\} 2/);
    expect(metrics).toMatch(/strand_sm_resumed_total\{[^}]*\} 1/); // resumed once …
    expect(metrics).toMatch(/strand_sm_hibernating_sessions 1/); // … and hibernating again after the second drop
  });
});
