/**
 * The host's hardening applies to WebSocket connections as to TCP: the per-address connection
 * rate (`limits.connectionsPerSecond`, refused before the WebSocket handshake with HTTP 429) and
 * the slowloris defence (`timeouts.stanza`: a message started but never completed is a
 * `policy-violation`), while complete messages and pings keep a slow but honest client alive.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { startServer, type RunningServer } from '../helpers/server.js';
import { CLOSE, NS_FRAMING, WsWire } from '../helpers/ws-wire.js';

const LIMITS = {
  maxStanzaBytes: 262144,
  maxDepth: 64,
  maxAttributes: 64,
  maxHeaderBytes: 4096,
  maxResourcesPerAccount: 10,
  offlinePerUser: 1000,
};

const servers: RunningServer[] = [];
const wires: WsWire[] = [];
afterAll(async () => {
  for (const w of wires) w.terminate();
  for (const s of servers) await s.stop();
});

async function server(overrides: Parameters<typeof startServer>[0]): Promise<RunningServer> {
  const s = await startServer(overrides);
  servers.push(s);
  return s;
}

async function connect(port: number): Promise<WsWire> {
  const w = await WsWire.connect(port);
  wires.push(w);
  return w;
}

describe('WebSocket hardening', () => {
  it('limits.connectionsPerSecond refuses further upgrades from an address with 429', async () => {
    const srv = await server({ limits: { ...LIMITS, exemptAddresses: [], connectionsPerSecond: 3 } });
    for (let i = 0; i < 3; i++) await connect(srv.ports.http);
    await expect(WsWire.connect(srv.ports.http)).rejects.toThrow(/429/);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toContain('strand_connections_refused_total{reason="connection-rate"} 1');
    // A second later the address may connect again.
    await new Promise((r) => setTimeout(r, 1100));
    await connect(srv.ports.http);
  });

  it('a message left incomplete for timeouts.stanza is a policy-violation; complete ones are not', async () => {
    const srv = await server({ timeouts: { preAuth: 60, closeHandshake: 2, read: 300, stanza: 2 } });
    // An honest, slow client: one complete message a second, for longer than the timeout.
    const slow = await connect(srv.ports.http);
    await slow.login('alice', 'secret', 'slow');
    // A trickler: the first fragment of a message, never finished (RFC 6455 fragmentation).
    const trickler = await connect(srv.ports.http);
    await trickler.login('bob', 'secret', 'trickle');
    const mark = trickler.messages.length;
    await new Promise<void>((resolve) =>
      trickler.ws.send(`<message xmlns='jabber:client' to='alice@localhost/slow'><body>`, { fin: false }, () => resolve()),
    );
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      await slow.send(`<iq xmlns='jabber:client' type='get' id='p${i}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    }
    await trickler.waitFor(CLOSE, 5000, mark);
    const tail = trickler.messages.slice(mark).map((m) => m.data);
    expect(tail[0]).toMatch(
      /^<stream:error xmlns:stream="http:\/\/etherx.jabber.org\/streams"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/,
    );
    expect(tail[1]).toBe(`<close xmlns='${NS_FRAMING}'/>`);
    await slow.waitFor(/id="p3"/);
    expect(slow.closeCode).toBeUndefined();
  }, 20_000);
});
