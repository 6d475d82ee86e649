/**
 * Interop over real sockets with Python slixmpp (its XEP-0198 plugin): enable with resumption,
 * lose the transport, receive what arrived meanwhile after resuming.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import { Router, SessionRegistry, type Router as RouterT, type SessionRegistry as SessionRegistryT } from '@strand/core';
import sm from '../../src/index.js';
import { startServer, type RunningServer } from '../../../../test/helpers/server.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Debian's interpreter carries python3-slixmpp (installed by scripts/test-setup.mjs). */
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

describe('interop: slixmpp resumes', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(
      { plugins: { '@strand/stream-management': { resumeTimeout: 60 } } },
      { plugins: { '@strand/stream-management': sm } },
    );
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('enables, loses the transport, resumes and gets the messages held meanwhile', async () => {
    const ca = join(process.cwd(), 'test', '.certs', 'ca.crt');
    const child = spawn(python, [join(here, 'slixmpp_resume.py'), '127.0.0.1', String(srv.ports.c2s), ca], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    child.stdout.setEncoding('utf8');
    let partial = '';
    child.stdout.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!; // a line may be split across chunks
      lines.push(...parts.filter(Boolean));
      for (const w of [...waiters]) if (lines.some((l) => w.re.test(l))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    });
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitLine = (re: RegExp, ms = 15_000) =>
      new Promise<void>((resolve, reject) => {
        if (lines.some((l) => re.test(l))) return resolve();
        const t = setTimeout(() => reject(new Error(`no ${re} from slixmpp; stdout: ${lines.join(' | ')}; stderr: ${stderr.slice(-2000)}`)), ms);
        waiters.push({ re, resolve: () => { clearTimeout(t); resolve(); } });
      });

    try {
      await waitLine(/^ENABLED [A-Za-z0-9_-]{24}$/);
      await waitLine(/^DROPPED$/);
      const registry = srv.server.container.get<SessionRegistryT>(SessionRegistry);
      const until = Date.now() + 5000;
      let session = await registry.get('alice@localhost/slix');
      while (session?.state !== 'detached' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        session = await registry.get('alice@localhost/slix');
      }
      expect(session?.state).toBe('detached'); // hibernating, not ended
      const router = srv.server.container.get<RouterT>(Router);
      for (const b of ['while-away-1', 'while-away-2', 'while-away-3']) {
        await router.route(xml('message', { from: 'bob@localhost/desk', to: 'alice@localhost/slix', type: 'chat', id: b }, xml('body', {}, b)));
      }
      child.stdin.write('GO\n');
      await waitLine(/^RESUMED \d+$/);
      await waitLine(/^DONE$/);
      expect(await exited).toBe(0);
      expect(lines.filter((l) => l.startsWith('GOT '))).toEqual(['GOT while-away-1', 'GOT while-away-2', 'GOT while-away-3']);
      const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
      expect(metrics).toContain('strand_sm_resumed_total{version="sm3"} 1');
    } finally {
      child.kill();
    }
  }, 60_000);
});
