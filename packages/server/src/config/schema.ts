/**
 * The host configuration schema (zod 4). Every object is `.strict()`: unknown keys are errors.
 * Durations are in **seconds**, sizes in **bytes**. Nested objects use `.prefault({})` so that
 * an omitted section still gets its inner defaults (zod 4's `.default()` would skip parsing).
 */
import { z } from 'zod';
import { addressMatcher, DEFAULT_EXEMPT_ADDRESSES } from '@strand/core';
import { DEFAULT_POOL_SIZE, MAX_POOL_SIZE } from '../storage/tokens.js';

/** A listening port: `0` = ephemeral, `null` or `false` = disabled (normalised to `null`). */
const port = (defaultPort: number) =>
  z
    .preprocess((v) => (v === false ? null : v), z.int().min(0).max(65535).nullable())
    .default(defaultPort);

const seconds = () => z.number().finite().positive();

/** No whitespace, `@` or `/` (a domain or localpart, loosely). */
const jidPart = (what: string) =>
  z
    .string()
    .min(1)
    .max(1023)
    .regex(/^[^\s@/]+$/u, `${what} must not contain whitespace, "@" or "/"`);

/** `listen`: where the host accepts connections. */
export const ListenSchema = z
  .object({
    /** Interface address to bind. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Client-to-server with STARTTLS (RFC 6120). */
    c2s: port(5222),
    /** Client-to-server with direct TLS (XEP-0368). */
    c2sTls: port(5223),
    /** HTTP: `/metrics` and `/xmpp-websocket` (RFC 7395). */
    http: port(5280),
    /** External components (XEP-0114). */
    component: port(5347),
  })
  .strict();

/** `tls`: certificate files, or a self-signed certificate generated on first start. */
export const TlsSchema = z
  .object({
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    selfSigned: z.boolean().default(true),
  })
  .strict();

/** `timeouts`, in seconds. */
export const TimeoutsSchema = z
  .object({
    /** A connection must authenticate within this time. */
    preAuth: seconds().default(60),
    /** How long `XmlStream.close()` waits for the peer's closing tag (RFC 6120 §4.4). */
    closeHandshake: seconds().default(5),
    /** Silence after which `StreamListener.onReadTimeout` runs; 0 = never. */
    read: z.number().finite().nonnegative().default(300),
    /**
     * A top-level element (or a stream header) started but not completed within this time closes
     * the stream with `policy-violation` (slowloris defence after authentication); 0 = never.
     */
    stanza: z.number().finite().nonnegative().default(60),
  })
  .strict();

/** `limits`, in bytes or counts. */
export const LimitsSchema = z
  .object({
    /** RFC 6120 §13.12 requires accepting stanzas of at least 10000 bytes. */
    maxStanzaBytes: z.int().min(10000).default(262144),
    maxDepth: z.int().min(1).default(64),
    /** Attributes per element, namespace declarations included — also on the stream header (≥ 8 so headers fit). */
    maxAttributes: z.int().min(8).default(64),
    /** Maximum size of a stream header (`<stream:stream …>`). */
    maxHeaderBytes: z.int().min(256).default(4096),
    maxResourcesPerAccount: z.int().min(1).default(10),
    /** Failed SASL attempts before the stream is closed (RFC 6120 §6.4.5 suggests 2–5 retries). */
    maxSaslFailures: z.int().min(1).max(10).default(3),
    /** Offline messages kept per account (0 = none). */
    offlinePerUser: z.int().min(0).default(1000),
    /**
     * Addresses and CIDR blocks exempt from the per-address limits below (and from plugins'
     * per-address limits, e.g. stream management's resume limit). Default: loopback.
     */
    exemptAddresses: z
      .array(
        z.string().refine((entry) => {
          try {
            addressMatcher([entry]);
            return true;
          } catch {
            return false;
          }
        }, 'expected an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8'),
      )
      .default([...DEFAULT_EXEMPT_ADDRESSES]),
    /** New connections accepted per second from one address (IPv6: one /64); 0 = unlimited. */
    connectionsPerSecond: z.int().min(0).default(20),
    /**
     * Failed SASL authentications (`not-authorized`) from one address (IPv6: one /64) within a
     * sliding minute; past it `<auth/>` is answered `temporary-auth-failure` without checking
     * credentials until the minute has slid. 0 = unlimited.
     */
    saslFailuresPerMinute: z.int().min(0).default(10),
  })
  .strict();

/** `auth`: SASL policy. */
export const AuthSchema = z
  .object({
    /** PBKDF2 iterations for new SCRAM credentials (RFC 7677 §4: at least 4096). */
    scramIterations: z.int().min(4096).default(4096),
    /** Allow authentication on unencrypted loopback connections (development, tests). */
    allowPlaintextOnLoopback: z.boolean().default(true),
    /** Require TLS before SASL (RFC 6120 §5, §13.8) except where allowed above. */
    requireEncryption: z.boolean().default(true),
  })
  .strict();

/** `storage`: which store adapters to use. */
export const StorageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('memory') }).strict(),
  z.object({ kind: z.literal('sqlite'), path: z.string().min(1).default('./data/strand.db') }).strict(),
  z
    .object({
      kind: z.literal('postgres'),
      /** `postgres://user:password@host:port/database` (libpq-style query options allowed). */
      url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
      /** Maximum connections of this node's pool, 1 to 100. */
      poolSize: z.int().min(1).max(MAX_POOL_SIZE).default(DEFAULT_POOL_SIZE),
    })
    .strict(),
]);

/** `accounts[]`: demo accounts created at start when absent. */
export const AccountSchema = z.object({ username: jidPart('username'), password: z.string().min(1) }).strict();

/** `components[]`: external components (XEP-0114) allowed to connect. */
export const ComponentSchema = z.object({ domain: jidPart('domain'), secret: z.string().min(1) }).strict();

/** `log`: pino level. */
export const LogSchema = z
  .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
  .strict();

/**
 * `cluster`: run this process as one node of a cluster (scale-out). Absent: a single node (the
 * default). Nodes share Redis (session directory, node liveness, SM-ID ownership, cross-node
 * routing and session hand-over) and the persistent storage (`storage.kind: postgres`; a shared
 * SQLite file works only for nodes on one machine).
 */
export const ClusterSchema = z
  .object({
    /** Redis URL (`redis://[user:pass@]host:port[/db]`). */
    redis: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
    /** This node's name, unique in the cluster and stable across restarts (1–64 of `[A-Za-z0-9_.-]`). */
    nodeId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1–64 characters of A–Z a–z 0–9 _ . -'),
    /**
     * Seconds within which a node killed without a clean stop is noticed by the others (its users
     * then appear unavailable, and its sessions cannot be resumed): nodes heartbeat and check every
     * third of it, and a liveness key lives two thirds. 2–300, default 10.
     */
    heartbeatTtl: seconds().min(2).max(300).default(10),
    /** Seconds a node waits for another node to hand a session over (`<resume/>`). 0.1–60, default 5. */
    handoverTimeout: seconds().min(0.1).max(60).default(5),
    /** Prefix of every Redis key, to share one Redis between clusters (default `strand`). */
    keyPrefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).default('strand'),
    /** Approximate cap of each node's inbox stream in Redis (entries, `XADD MAXLEN ~`). 1000–10 000 000, default 100 000. */
    inboxMaxLen: z.number().int().min(1000).max(10_000_000).default(100_000),
  })
  .strict();

/** The whole host configuration file. */
export const ConfigSchema = z
  .object({
    /** The served XMPP domain. */
    domain: jidPart('domain').default('localhost'),
    listen: ListenSchema.prefault({}),
    tls: TlsSchema.prefault({}),
    timeouts: TimeoutsSchema.prefault({}),
    limits: LimitsSchema.prefault({}),
    auth: AuthSchema.prefault({}),
    storage: StorageSchema.default({ kind: 'sqlite', path: './data/strand.db' }),
    cluster: ClusterSchema.optional(),
    accounts: z.array(AccountSchema).default([]),
    components: z.array(ComponentSchema).default([]),
    log: LogSchema.prefault({}),
    /** Sections of enabled plugins by key; each is validated later by its plugin's own schema. */
    plugins: z.record(z.string(), z.unknown()).default({}),
    /** Modules loaded after the plugins (they may `rebind` anything); paths relative to the file. */
    overrides: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });

    if ((c.tls.cert === undefined) !== (c.tls.key === undefined)) {
      issue(['tls', c.tls.cert === undefined ? 'cert' : 'key'], 'tls.cert and tls.key must be set together');
    }
    const tlsAvailable = c.tls.cert !== undefined || c.tls.selfSigned;
    if (!tlsAvailable && c.listen.c2sTls !== null) {
      issue(['listen', 'c2sTls'], 'direct TLS needs a certificate: set tls.cert and tls.key, or tls.selfSigned: true');
    }
    if (!tlsAvailable && c.auth.requireEncryption && !c.auth.allowPlaintextOnLoopback) {
      issue(['auth', 'requireEncryption'], 'no client could authenticate: encryption is required but TLS has no certificate');
    }

    const ports = new Map<number, string>();
    for (const name of ['c2s', 'c2sTls', 'http', 'component'] as const) {
      const p = c.listen[name];
      if (p === null || p === 0) continue;
      const other = ports.get(p);
      if (other) issue(['listen', name], `port ${p} is already used by listen.${other}`);
      else ports.set(p, name);
    }

    if (c.cluster && c.storage.kind === 'memory') {
      issue(['storage', 'kind'], 'a cluster node needs storage shared by all nodes: postgres (or a SQLite file on one machine)');
    }

    const usernames = new Set<string>();
    c.accounts.forEach((a, i) => {
      const u = a.username.toLowerCase();
      if (usernames.has(u)) issue(['accounts', i, 'username'], `duplicate account "${a.username}"`);
      usernames.add(u);
    });
    const domains = new Set<string>([c.domain.toLowerCase()]);
    c.components.forEach((comp, i) => {
      const d = comp.domain.toLowerCase();
      if (domains.has(d)) issue(['components', i, 'domain'], `domain "${comp.domain}" is already served`);
      domains.add(d);
    });
  });

/** A validated configuration with defaults applied. */
export type StrandConfig = z.output<typeof ConfigSchema>;
/** What a configuration file may contain (everything optional). */
export type StrandConfigInput = z.input<typeof ConfigSchema>;
/** The `cluster` section after validation. */
export type ClusterConfig = z.output<typeof ClusterSchema>;
/** The `storage` section after validation. */
export type StorageConfig = z.output<typeof StorageSchema>;
