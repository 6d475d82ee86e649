/**
 * Converse.js (the npm `converse.js` 14 bundle) in headless Chromium logs in to Strand over
 * `ws://localhost:<port>/xmpp-websocket`, chats with an `@xmpp/client` user in both directions
 * through its UI, and survives a server-side socket drop by resuming through XEP-0198 stream
 * management without losing the message sent while it was away. A screenshot of the chat is saved
 * to test/.artifacts/converse.png.
 *
 * The page is served by a tiny static HTTP server started here (Converse's dist files from
 * node_modules); the browser is started and stopped by PID (see helpers/chromium.ts).
 */
import { createReadStream, mkdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { RosterStore, type RosterStore as RosterStoreT } from '@strand/core';
import { SessionRegistryImpl } from '@strand/server';
import sm from '@strand/stream-management';
import { launchChromium, type RunningChromium } from '../helpers/chromium.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';
import { wsUrl } from '../helpers/ws-wire.js';

const DIST = join(process.cwd(), 'node_modules', 'converse.js', 'dist');
const ARTIFACTS = join(process.cwd(), 'test', '.artifacts');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.map': 'application/json',
};

function page(wsPort: number): string {
  const options = {
    websocket_url: wsUrl(wsPort),
    discover_connection_methods: false,
    auto_login: true,
    jid: 'alice@localhost',
    password: 'secret',
    view_mode: 'fullscreen',
    allow_non_roster_messaging: true,
    whitelisted_plugins: ['strand-test'],
    enable_smacks: true,
    auto_reconnect: true,
    play_sounds: false,
    show_desktop_notifications: false,
    i18n: 'en',
    loglevel: 'info',
  };
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Strand + Converse.js</title>
  <link rel="stylesheet" href="/dist/converse.min.css">
  <script type="module" src="/dist/converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<script type="module">
  // Exposes Converse's API to the test (opening the chat with bob).
  converse.plugins.add('strand-test', {
    initialize() {
      window.strandApi = this._converse.api;
    },
  });
  converse.initialize(${JSON.stringify(options)});
</script>
</body>
</html>`;
}

/** Serves the page at `/` and Converse's dist files under `/dist/`. */
function startStatic(wsPort: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(wsPort));
      return;
    }
    if (path.startsWith('/dist/')) {
      const file = normalize(join(DIST, path.slice('/dist/'.length)));
      if (file.startsWith(DIST + sep)) {
        try {
          if (statSync(file).isFile()) {
            res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
            createReadStream(file).pipe(res);
            return;
          }
        } catch {
          /* 404 below */
        }
      }
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

/** Texts of the messages shown in the open chat with bob, in display order. */
function shownMessages(p: Page): Promise<string[]> {
  return p.locator('converse-chats .chat-msg__text').allInnerTexts();
}

async function waitForShown(p: Page, text: string, timeoutMs = 30_000): Promise<void> {
  await p.locator('converse-chats .chat-msg__text', { hasText: text }).first().waitFor({ state: 'visible', timeout: timeoutMs });
}

describe('Converse.js in headless Chromium over WebSocket', () => {
  let srv: RunningServer;
  let stat: { server: Server; port: number };
  let browser: RunningChromium | undefined;
  let bob: TestXmpp | undefined;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    srv = await startServer(
      { plugins: { '@strand/stream-management': { resumeTimeout: 120 } } },
      { plugins: { '@strand/stream-management': sm } },
    );
    // alice and bob are mutual contacts. (Converse 14 cannot open a chat with a non-contact on a
    // server without XEP-0191 blocking: it waits for a blocklist that is never fetched.)
    const rosters = srv.server.container.get<RosterStoreT>(RosterStore);
    const item = { subscription: 'both' as const, ask: false, pendingIn: false, approved: false, groups: [], visible: true };
    await rosters.setItem('alice@localhost', { ...item, jid: 'bob@localhost', name: 'Bob' });
    await rosters.setItem('bob@localhost', { ...item, jid: 'alice@localhost', name: 'Alice' });
    stat = await startStatic(srv.ports.http);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    if (process.env.STRAND_TEST_DEBUG) console.log(consoleLines.filter((l) => !/ERR_NAME_NOT_RESOLVED|autocomplete/.test(l)).join('\n'));
    await bob?.stop();
    await browser?.stop();
    if (stat) {
      const closed = new Promise((r) => stat.server.close(r));
      stat.server.closeAllConnections();
      await closed;
    }
    await srv?.stop();
  });

  it('logs in, chats both ways with an @xmpp/client user, and resumes after a server-side drop without losing a message', async () => {
    const step = (what: string) => {
      consoleLines.push(`--- step: ${what}`);
      if (process.env.STRAND_TEST_DEBUG) console.log(`step: ${what}`);
    };
    step('launch');
    browser = await launchChromium();
    const p = await browser.context.newPage();
    p.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    try {
      await converseScenario(p, step);
    } catch (err) {
      await p.screenshot({ path: join(ARTIFACTS, 'converse-failure.png') }).catch(() => undefined);
      const log = consoleLines.filter((l) => !/ERR_NAME_NOT_RESOLVED|autocomplete|DEPRECATED|wasm|ArrayBuffer/.test(l)).slice(-80);
      (err as Error).message +=
        `\n\nConverse console and test steps (last 80 lines; screenshot: test/.artifacts/converse-failure.png):\n${log.join('\n')}`;
      throw err;
    }
  }, 150_000);

  async function converseScenario(p: Page, step: (what: string) => void): Promise<void> {
    await p.setViewportSize({ width: 1280, height: 800 });
    await p.goto(`http://127.0.0.1:${stat.port}/`);

    const registry = srv.server.container.get(SessionRegistryImpl);
    // Converse logs in and binds a resource over WebSocket, with stream management enabled.
    const deadline = Date.now() + 45_000;
    while ((await registry.getByBareJid('alice@localhost')).length === 0 && Date.now() < deadline) await p.waitForTimeout(100);
    const [session] = await registry.getByBareJid('alice@localhost');
    if (!session) throw new Error('Converse did not log in within 45 s');
    expect(session.stream?.transport).toBe('websocket');

    step('bob');
    bob = await startClient({ port: srv.ports.c2s, username: 'bob', resource: 'desk' });
    await bob.xmpp.send(xml('presence')); // available: messages to bob's bare JID reach this resource

    // alice → bob, typed into Converse's UI.
    step('alice to bob');
    await p.evaluate(() =>
      (globalThis as unknown as { strandApi: { chats: { open(jid: string): Promise<unknown> } } }).strandApi.chats.open('bob@localhost'),
    );
    const textarea = p.locator('converse-chats textarea.chat-textarea').first();
    await textarea.waitFor({ state: 'visible', timeout: 30_000 });
    await textarea.fill('Hello Bob, this is Converse over WebSocket');
    await textarea.press('Enter');
    const atBob = await bob.waitFor(
      (el) => el.is('message') && el.getChildText('body') === 'Hello Bob, this is Converse over WebSocket',
      15_000,
    );
    expect(atBob.attrs.from).toBe(session.jid.toString());
    await waitForShown(p, 'Hello Bob, this is Converse over WebSocket');

    // bob → alice (to the bare JID, as a person's client would).
    step('bob to alice');
    await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'b1' }, xml('body', {}, 'Hi Alice, bob here on TCP')));
    await waitForShown(p, 'Hi Alice, bob here on TCP');

    // The server drops Converse's socket. Converse reconnects and resumes (XEP-0198); a message
    // bob sends while the session is detached is held and delivered after <resumed/>.
    step('drop');
    const resumedBefore = await resumedTotal(srv.ports.http);
    session.stream!.destroy('test: server-side socket drop');
    await until(() => session.state === 'detached' || session.stream === undefined, 5000, 'the session to be detached');
    await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'b2' }, xml('body', {}, 'Sent while you were away')));
    await waitForShown(p, 'Sent while you were away', 60_000);
    expect(await resumedTotal(srv.ports.http)).toBe(resumedBefore + 1);
    // The same session (same full JID) carries on, on a new WebSocket.
    const sessions = await registry.getByBareJid('alice@localhost');
    expect(sessions.map((s) => s.jid.toString())).toEqual([session.jid.toString()]);
    expect(sessions[0]!.stream?.transport).toBe('websocket');
    expect(sessions[0]!.state).toBe('active');

    // And the chat goes on after the resumption, both ways.
    step('after resume');
    await textarea.fill('Back again');
    await textarea.press('Enter');
    await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'Back again', 15_000);
    await waitForShown(p, 'Back again');

    // Every message shown exactly once, in order.
    const shown = await shownMessages(p);
    expect(shown).toEqual([
      'Hello Bob, this is Converse over WebSocket',
      'Hi Alice, bob here on TCP',
      'Sent while you were away',
      'Back again',
    ]);
    await p.screenshot({ path: join(ARTIFACTS, 'converse.png') });
  }
});

async function resumedTotal(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = /strand_sm_resumed_total\{version="sm3"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

async function until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
