// Types of fuzz-properties.mjs (for the TypeScript tests that import it).
import type fc from 'fast-check';

type FC = typeof fc;

export declare function xmlClean(s: string): string;
export declare const escText: (s: string) => string;
export declare const escAttr: (s: string, q: string) => string;
export declare function clientHeader(opts?: { to?: string; version?: string; xmlns?: string; lang?: string; decl?: boolean; quote?: string }): string;
export declare function mutate(buf: Uint8Array, mutations: unknown[]): Buffer;
export declare function chunks(buf: Uint8Array, sizes: number[]): Generator<Uint8Array>;
export declare const FUZZ_LIMITS: Readonly<{ maxStanzaBytes: number; maxDepth: number; maxAttributes: number; maxHeaderBytes: number }>;

/** The parser class (`StreamParser` of @strand/server). */
export type ParserClass = new (limits?: Record<string, number>) => {
  on(event: string, fn: (...args: never[]) => void): unknown;
  write(data: Uint8Array): void;
  readonly incomplete: boolean;
  readonly boundaries: number;
};

export declare function parseAll(
  StreamParser: ParserClass,
  limits: Record<string, number> | undefined,
  buf: Uint8Array,
  sizes?: number[],
): { events: unknown[][]; incomplete: boolean; boundaries: number };
export declare function checkEventShape(events: unknown[][]): void;
export declare function parserProperties(
  fc: FC,
  deps: { StreamParser: ParserClass },
): { chunking: fc.IPropertyWithHooks<unknown>; incomplete: fc.IPropertyWithHooks<unknown>; mutation: fc.IPropertyWithHooks<unknown> };

/** What `runConnection` needs of a `StrandServer` (its private `accept` included). */
export interface AcceptingServer {
  readonly streamCount: number;
  accept(socket: unknown, secure: boolean): void;
}
export declare function fakeSocket(remoteAddress?: string): { socket: import('node:stream').Duplex; written: Buffer[]; text(): string };
export declare function runConnection(server: AcceptingServer, bytes: Uint8Array, sizes: number[], options?: { tls?: boolean; timeoutMs?: number }): Promise<string>;
export declare function protocolArbitraries(fc: FC): Record<string, fc.Arbitrary<unknown>>;
export declare function negotiationProperty(
  fc: FC,
  server: AcceptingServer,
  context: { errors(): number; lastError?(): string },
): fc.IAsyncPropertyWithHooks<unknown>;
export declare function pluginProperty(
  fc: FC,
  deps: { TestHost: unknown; plugins: Array<[unknown, unknown]>; xml: unknown },
): fc.IAsyncPropertyWithHooks<unknown>;
