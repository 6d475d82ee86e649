/**
 * Headless Chromium (Debian's `/usr/bin/chromium`, installed by scripts/test-setup.mjs) driven
 * through `playwright-core` over CDP. The browser is a child process of the test, started in its
 * own process group with a fresh profile, and stopped by PID (the whole group: renderer, GPU and
 * zygote processes included), so nothing outlives the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { Proc } from './process.js';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--no-default-browser-check',
  '--disable-dev-shm-usage',
];

export interface RunningChromium {
  proc: Proc;
  browser: Browser;
  context: BrowserContext;
  /** Disconnects, then kills the browser's process group by PID and removes the profile. */
  stop(): Promise<void>;
}

export async function launchChromium(): Promise<RunningChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'strand-chromium-'));
  const proc = Proc.spawn(
    CHROMIUM,
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'],
    { detached: true, env: { ...process.env, CHROMIUM_FLAGS: '' } },
  );
  const stopProc = async () => {
    if (!proc.exit && proc.child.pid !== undefined) {
      try {
        process.kill(-proc.child.pid, 'SIGKILL'); // the process group started above
      } catch {
        /* already gone */
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const endpoint = await proc.waitFor(
      () => /DevTools listening on (ws:\/\/\S+)/.exec(proc.stderr)?.[1],
      30_000,
      'Chromium to listen for DevTools',
    );
    const browser = await chromium.connectOverCDP(endpoint);
    const context = browser.contexts()[0] ?? (await browser.newContext());
    return {
      proc,
      browser,
      context,
      async stop() {
        await browser.close().catch(() => undefined);
        await stopProc();
      },
    };
  } catch (err) {
    await stopProc();
    throw err;
  }
}
