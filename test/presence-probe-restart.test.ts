/**
 * @strand/presence-probe across a server restart: SQLite storage, two server instances one after
 * the other on the same file. The last unavailable presence recorded by the first is answered by
 * the second, to @xmpp/client and to slixmpp.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';
import { slixmppProbe } from './helpers/slixmpp.js';
import { barrier, DELAY, probeWith, startProbeServer, startedAt, subscribe } from './helpers/presence-probe.js';

describe('presence-probe after a server restart (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-probe-restart-'));
  const storage = { kind: 'sqlite' as const, path: join(dir, 'strand.db') };
  const clients: TestXmpp[] = [];
  const servers: RunningServer[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(srv: RunningServer, username: string, resource: string): Promise<TestXmpp> {
    const c = await startClient({ port: srv.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  it('still returns the last unavailable presence (status and stamp) from the second instance', async () => {
    // First instance: subscriptions, bob leaves with a status, carol is still online at shutdown.
    const first = await startProbeServer({}, { storage });
    servers.push(first);
    const alice = await login(first, 'alice', 'desk');
    const bob = await login(first, 'bob', 'balcony');
    const carol = await login(first, 'carol', 'phone');
    await subscribe(first, alice, bob);
    await subscribe(first, alice, carol);
    await bob.xmpp.send(xml('presence'));
    await carol.xmpp.send(xml('presence', {}, xml('status', {}, 'still here')));
    await barrier(bob);
    await barrier(carol);
    const bobLeftAt = Date.now();
    await bob.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Going offline. Out of battery.')));
    await barrier(bob); // the server recorded it
    await bob.stop();
    const firstStartedAt = startedAt(first);
    const stopAt = Date.now();
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    const stoppedAt = Date.now();

    // Second instance on the same database file.
    const second = await startProbeServer({}, { storage });
    servers.push(second);
    expect(startedAt(second)).toBeGreaterThan(firstStartedAt);
    const alice2 = await login(second, 'alice', 'desk');

    const bobAnswers = await probeWith(alice2, 'bob@localhost');
    expect(bobAnswers).toHaveLength(1);
    const b = bobAnswers[0]!;
    expect(b.attrs).toMatchObject({ from: 'bob@localhost', to: 'alice@localhost/desk', type: 'unavailable' });
    expect(b.getChildText('status')).toBe('Going offline. Out of battery.');
    const bDelay = b.getChild('delay', DELAY)!;
    expect(bDelay.attrs.from).toBe('bob@localhost/balcony');
    expect(Math.abs(Date.parse(bDelay.attrs.stamp) - bobLeftAt)).toBeLessThanOrEqual(1000);

    // carol's session ended with the first server's shutdown: her last presence is that end.
    const [c] = await probeWith(alice2, 'carol@localhost');
    expect(c!.attrs).toMatchObject({ from: 'carol@localhost', type: 'unavailable' });
    const cAt = Date.parse(c!.getChild('delay', DELAY)!.attrs.stamp);
    expect(cAt).toBeGreaterThanOrEqual(stopAt - 1000);
    expect(cAt).toBeLessThanOrEqual(stoppedAt + 1000);

    // The second instance reports its own start time.
    const [up] = await probeWith(alice2, 'localhost');
    expect(Date.parse(up!.getChild('delay', DELAY)!.attrs.stamp)).toBe(startedAt(second));

    // slixmpp sees the same stored presence.
    const out = await slixmppProbe(second.ports.c2s, 'alice@localhost/slix', ['bob@localhost']);
    const [sb] = out.results[0]!.presences;
    expect(sb).toMatchObject({ from: 'bob@localhost', type: 'unavailable', status: 'Going offline. Out of battery.', delay_from: 'bob@localhost/balcony' });
    expect(sb!.delay_epoch_ms).toBe(Date.parse(bDelay.attrs.stamp));
  });
});
