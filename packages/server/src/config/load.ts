/** Reads, validates and normalises the host configuration file. */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigSchema, type StrandConfig } from './schema.js';

/** One configuration problem: a dotted path (`limits.maxDepth`, `accounts.0.username`) and a message. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * An unreadable or invalid configuration. The message names the file and lists every issue as
 * `path: message`, one per line.
 */
export class ConfigError extends Error {
  constructor(
    /** What was being read: a file path or a description such as `plugin @strand/keepalive`. */
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`Invalid configuration (${source}):\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A validated configuration, with its relative paths resolved, and where it came from. */
export type LoadedConfig = StrandConfig & {
  /** Absolute path of the configuration file. */
  readonly configFile: string;
};

/** Flattens zod issues into dotted-path issues; one issue per unknown key. */
function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const path = (p: readonly PropertyKey[]) => (p.length === 0 ? '(root)' : p.map(String).join('.'));
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: path([...prefix, ...i.path, k]), message: 'Unrecognized key' }))
      : [{ path: path([...prefix, ...i.path]), message: i.message }],
  );
}

/**
 * Validates raw configuration data (as parsed from YAML or JSON) and resolves relative paths
 * (`tls.cert`, `tls.key`, `storage.path` of sqlite unless `:memory:`, `overrides[]`) against
 * `baseDir`. An empty document (`null`/`undefined`) means all defaults.
 * @param source named in error messages
 * @throws ConfigError listing every issue with its dotted path
 */
export function parseConfig(raw: unknown, baseDir: string, source = 'configuration'): StrandConfig {
  const result = ConfigSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(source, issuesOf(result.error));
  const c = result.data;
  const at = (p: string) => resolve(baseDir, p);
  return {
    ...c,
    tls: {
      ...c.tls,
      ...(c.tls.cert !== undefined ? { cert: at(c.tls.cert) } : {}),
      ...(c.tls.key !== undefined ? { key: at(c.tls.key) } : {}),
    },
    storage: c.storage.kind === 'sqlite' && c.storage.path !== ':memory:' ? { ...c.storage, path: at(c.storage.path) } : c.storage,
    overrides: c.overrides.map(at),
  };
}

/**
 * Loads a configuration file: `.yaml`/`.yml` (parsed with `yaml`; duplicate keys are errors) or
 * `.json`. Relative paths inside are resolved against the file's directory.
 * @throws ConfigError when the file cannot be read, has a syntax error (with line and column),
 *   has an unsupported extension, or does not match the schema
 */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const configFile = resolve(file);
  const fail = (path: string, message: string): never => {
    throw new ConfigError(configFile, [{ path, message }]);
  };
  const ext = extname(configFile).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(ext)) fail('(file)', `unsupported extension "${ext}": use .yaml, .yml or .json`);
  let text = '';
  try {
    text = await readFile(configFile, 'utf8');
  } catch (e) {
    fail('(file)', `cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = text.trim() === '' ? undefined : JSON.parse(text);
    } catch (e) {
      fail('(syntax)', (e as Error).message);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        configFile,
        doc.errors.map((e) => ({ path: '(syntax)', message: e.message.split('\n')[0]! })),
      );
    }
    raw = doc.toJS();
  }
  return { ...parseConfig(raw, dirname(configFile), configFile), configFile };
}

/**
 * Validates one plugin's section with the plugin's own schema (`PluginDefinition.configSchema`).
 * A missing or empty (`null`) section is validated as `{}` so that defaults apply.
 * @param pluginName the section's key under `plugins:` (the plugin's `configKey`)
 * @returns the parsed section, defaults applied
 * @throws ConfigError whose issues carry full paths, e.g. `plugins.@strand/keepalive.maxInterval`
 */
export function validatePluginSection<S extends z.ZodType>(pluginName: string, schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(`plugin ${pluginName}`, issuesOf(result.error, ['plugins', pluginName]));
  return result.data;
}
