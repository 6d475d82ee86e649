/**
 * XEP-0156 connection-method discovery over HTTP: `/.well-known/host-meta` (XRD, RFC 6415) and
 * `/.well-known/host-meta.json` (JRD) advertising the RFC 7395 WebSocket endpoint.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { escapeXML } from '@xmpp/xml';

/** The XEP-0156 link relation of an RFC 7395 endpoint. */
export const REL_WEBSOCKET = 'urn:xmpp:alt-connections:websocket';
const NS_XRD = 'http://docs.oasis-open.org/ns/xri/xrd-1.0';

/** A Host header we are willing to echo into a URL: a host name or IP literal and an optional port. */
const HOST_HEADER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The `ws://` or `wss://` URL of the endpoint as seen by the client that sent `req`: the host is
 * the request's `Host` header (when it is a plain host[:port]; `fallbackHost` otherwise), the
 * scheme `wss` when the request came over TLS or through a proxy that says so
 * (`X-Forwarded-Proto: https`).
 */
export function websocketUrl(req: IncomingMessage, path: string, fallbackHost: string): string {
  const header = req.headers.host;
  const host = header !== undefined && HOST_HEADER.test(header) ? header : fallbackHost;
  const forwarded = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    ?.trim()
    .toLowerCase();
  const tls = (req.socket as Partial<TLSSocket>).encrypted === true || forwarded === 'https';
  return `${tls ? 'wss' : 'ws'}://${host}${path}`;
}

/** The XRD document of `/.well-known/host-meta`. */
export function hostMetaXrd(url: string): string {
  return (
    `<?xml version='1.0' encoding='utf-8'?>\n` +
    `<XRD xmlns='${NS_XRD}'>\n` +
    `  <Link rel='${REL_WEBSOCKET}' href='${escapeXML(url)}'/>\n` +
    `</XRD>\n`
  );
}

/** The JRD document of `/.well-known/host-meta.json`. */
export function hostMetaJson(url: string): string {
  return `${JSON.stringify({ links: [{ rel: REL_WEBSOCKET, href: url }] }, null, 2)}\n`;
}
