/**
 * Foundation acceptance: interop with Python slixmpp (Debian python3-slixmpp). slixmpp logs in
 * over STARTTLS trusting only the test CA, and exchanges messages with an @xmpp/client user in
 * both directions (test/fixtures/slix_echo.py: slixmpp → bob, bob → slixmpp, echo → bob).
 *
 * Never skipped: without slixmpp (run `node scripts/test-setup.mjs`) these tests fail.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Proc } from './helpers/process.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

/** Debian's interpreter: the `python3` first in PATH may be a pyenv without Debian's modules. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(process.cwd(), 'test', 'fixtures', 'slix_echo.py');
const CA = join(process.cwd(), 'test', '.certs', 'ca.crt');
/** Hard limit given to the script; the test waits a little longer. */
const SCRIPT_TIMEOUT_S = 20;

interface SlixEvent {
  event: string;
  jid?: string;
  from?: string;
  to?: string;
  body?: string;
  reason?: string;
}

function slixmppVersion(): { ok: boolean; out: string } {
  const r = spawnSync(PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

describe('interop: slixmpp ⇄ @xmpp/client', () => {
  let srv: RunningServer;
  let bob: TestXmpp | undefined;
  let slix: Proc | undefined;

  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await slix?.kill();
    await bob?.stop();
    await srv?.stop();
  });

  it(`slixmpp is importable by ${PYTHON}`, () => {
    const v = slixmppVersion();
    if (!v.ok) {
      throw new Error(`${PYTHON} cannot import slixmpp (install python3-slixmpp: node scripts/test-setup.mjs):\n${v.out}`);
    }
    expect(v.out).toMatch(/^\d+\.\d+/);
  });

  it(
    'slixmpp logs in over STARTTLS and exchanges messages with an @xmpp/client user both ways',
    async () => {
      bob = await startClient({ port: srv.ports.c2s, username: 'bob', resource: 'js' });
      await bob.xmpp.send(xml('presence'));

      slix = Proc.spawn(PYTHON, [
        SCRIPT,
        '--host', '127.0.0.1',
        '--port', String(srv.ports.c2s),
        '--jid', 'carol@localhost/slix',
        '--password', 'secret',
        '--peer', bob.jid,
        '--ca', CA,
        '--body', 'hello from slixmpp',
        '--timeout', String(SCRIPT_TIMEOUT_S),
      ]);
      const events = () => slix!.json<SlixEvent>();
      const event = (name: string) => () => events().find((e) => e.event === name);
      const waitMs = (SCRIPT_TIMEOUT_S + 5) * 1000;

      // slixmpp → @xmpp/client
      const ready = await slix.waitFor(event('ready'), waitMs, 'slixmpp session_start');
      expect(ready.jid).toBe('carol@localhost/slix');
      const hello = await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello from slixmpp', waitMs);
      expect(hello.attrs.from).toBe('carol@localhost/slix');
      expect(hello.attrs.to).toBe(bob.jid);
      expect(hello.attrs.type).toBe('chat');

      // @xmpp/client → slixmpp, and slixmpp's echo back
      await bob.xmpp.send(xml('message', { to: hello.attrs.from, type: 'chat', id: 'to-slix' }, xml('body', {}, 'hello from xmpp.js ✓')));
      const echo = await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'echo: hello from xmpp.js ✓', waitMs);
      expect(echo.attrs.from).toBe('carol@localhost/slix');

      const exit = await slix.waitExit(waitMs);
      expect({ exit: exit.code, stderr: slix.stderr }).toEqual({ exit: 0, stderr: expect.not.stringMatching(/ERROR|Traceback/) });
      expect(events().map((e) => e.event)).toEqual(['tls', 'ready', 'sent', 'received', 'echoed', 'disconnected']);
      expect(events().find((e) => e.event === 'received')).toEqual({ event: 'received', from: bob.jid, body: 'hello from xmpp.js ✓' });
    },
    (SCRIPT_TIMEOUT_S + 15) * 1000,
  );
});
