#!/usr/bin/env node
/**
 * The `strand` command: `start [--config FILE]`, `adduser JID [--password P] [--config FILE]`,
 * `check-config FILE`, `--help`.
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { Authenticator, parseJid } from '@strand/core';
import { loadConfig } from './config/load.js';
import { StrandServer } from './server.js';

const HELP = `Usage: strand <command> [options]

Commands:
  start [--config FILE]                 run the server (default config: config/default.yaml)
  adduser JID [--password P] [--config FILE]
                                        create an account (password read from stdin if omitted)
  check-config FILE                     validate a configuration file and its plugin sections
  --help                                show this help
`;

const DEFAULT_CONFIG = 'config/default.yaml';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      password: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 1;
  }
  switch (command) {
    case 'start':
      return start(values.config ?? DEFAULT_CONFIG);
    case 'check-config': {
      const file = arg ?? values.config;
      if (!file) throw new Error('check-config needs a FILE');
      const config = (await loadConfig(file));
      // Plugin sections are validated by each plugin's own schema while assembling. The storage
      // section is only validated: no database is opened or migrated.
      const server = await StrandServer.create({ ...config, storage: { kind: 'memory' }, log: oneShotLog(config.log) });
      void server;
      process.stdout.write(`${file}: OK (${Object.keys(config.plugins).length} plugins)\n`);
      return 0;
    }
    case 'adduser': {
      if (!arg) throw new Error('adduser needs a JID');
      const config = (await loadConfig(values.config ?? DEFAULT_CONFIG));
      const jid = parseJid(arg.includes('@') ? arg : `${arg}@${config.domain}`);
      if (jid.domain !== config.domain) throw new Error(`${arg} is not on ${config.domain}`);
      const password = values.password ?? (await readPassword());
      if (!password) throw new Error('empty password');
      // Opens the configured storage (SQLite file or PostgreSQL database, migrated if needed).
      const server = await StrandServer.create({ ...config, plugins: {}, overrides: [], log: oneShotLog(config.log) });
      try {
        await server.container.get<Authenticator>(Authenticator).createAccount(jid.local, password);
      } finally {
        await server.stop(); // closes the storage (a PostgreSQL pool would keep the process alive)
      }
      process.stdout.write(`created ${jid.bare().toString()}\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command: ${command}\n\n${HELP}`);
      return 1;
  }
}

/**
 * Log settings for one-shot commands (`check-config`, `adduser`): stdout is reserved for the
 * command's own result, so the server's info lines ("plugin loaded", "Strand stopped") are
 * dropped; warnings and errors are still logged.
 */
function oneShotLog(log: { level: string }): { level: string } {
  return { level: ['fatal', 'error', 'silent'].includes(log.level) ? log.level : 'warn' };
}

async function readPassword(): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  const line = await rl.question('password: ');
  rl.close();
  return line.trim();
}

async function start(file: string): Promise<number> {
  const config = (await loadConfig(file));
  const server = await StrandServer.create(config);
  try {
    await server.start();
  } catch (e) {
    await server.stop(); // closes listeners already open and the storage
    throw e;
  }
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    server.logger.info({ signal }, 'shutting down');
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return new Promise<number>(() => undefined);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`strand: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
