/**
 * XmlStreamImpl/StreamParser behaviour added or fixed by the hardening work (several found by the
 * fuzzers in test/hardening/): the `incompleteSince` tracking behind `timeouts.stanza`, a close
 * awaited by a handler while EOF is already queued (no wait for the close timeout), a peer close
 * tag pipelined before a restart, and limits enforced at exact byte positions whatever the reads.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { StreamParser } from '../../src/stream/parser.js';
import { CLIENT_HEADER, RecordingDelegate, sleep, startHarness, until, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('XmlStreamImpl.incompleteSince (input of the stanza timeout)', () => {
  it('is set while a header or element is partially received, moves on when one completes, clears at a boundary', async () => {
    h = await startHarness();
    const c = await h.connect();
    const { stream } = await h.accepted();
    expect(stream.incompleteSince).toBeUndefined();
    c.send(CLIENT_HEADER.slice(0, 30));
    await until(() => stream.incompleteSince !== undefined, 2000, 'header in progress');
    const headerStart = stream.incompleteSince!;
    c.send(CLIENT_HEADER.slice(30));
    await until(() => stream.incompleteSince === undefined, 2000, 'header complete');
    c.send('   \n ');
    await sleep(30);
    expect(stream.incompleteSince).toBeUndefined(); // whitespace keepalives are not an element
    c.send('<message><bo');
    await until(() => stream.incompleteSince !== undefined, 2000, 'element in progress');
    const first = stream.incompleteSince!;
    expect(first).toBeGreaterThanOrEqual(headerStart);
    await sleep(20);
    c.send('dy/>');
    await sleep(20);
    expect(stream.incompleteSince).toBe(first); // still the same element
    c.send('</message><presence');
    await until(() => stream.incompleteSince !== first, 2000, 'next element');
    expect(stream.incompleteSince).toBeGreaterThan(first);
    c.send('/>');
    await until(() => stream.incompleteSince === undefined, 2000, 'boundary');
  });
});

describe('XmlStreamImpl close handshake with queued input', () => {
  it('a handler awaiting close() while EOF is already queued behind it does not wait for the close timeout', async () => {
    h = await startHarness({
      closeHandshakeMs: 4000,
      delegate: () => {
        const d = new RecordingDelegate();
        d.element = async (stream, el) => {
          if (el.name === 'slow') await sleep(50); // EOF arrives meanwhile
          else await stream.close({ reason: `closed-by-${el.name}` });
        };
        return d;
      },
    });
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(`${CLIENT_HEADER}<slow/><first/><second/>`);
    await until(() => delegate.elements.length >= 1, 2000, 'first element');
    c.socket.end();
    const started = Date.now();
    await stream.closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delegate.closedInfo?.handshakeTimedOut).toBe(false);
  });

  it('a close tag and EOF pipelined before a restart: the stream ends as a transport loss instead of hanging', async () => {
    h = await startHarness({
      closeHandshakeMs: 4000,
      delegate: () => {
        const d = new RecordingDelegate();
        d.element = async (stream) => {
          await sleep(50); // e.g. password hashing: the close tag and FIN are read meanwhile
          stream.restart();
        };
        return d;
      },
    });
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(`${CLIENT_HEADER}<auth/></stream:stream>`);
    c.socket.end();
    const started = Date.now();
    await stream.closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delegate.closedInfo).toMatchObject({ initiator: 'transport', endSession: false });
  });
});

describe('StreamParser limits at exact byte positions', () => {
  const events = (chunks: Buffer[], limits = { maxStanzaBytes: 100, maxHeaderBytes: 300 }) => {
    const p = new StreamParser(limits);
    const out: string[] = [];
    p.on('streamStart', () => out.push('start'));
    p.on('element', (el) => out.push(el.name));
    p.on('streamEnd', () => out.push('end'));
    p.on('error', (condition) => out.push(`error:${condition}`));
    for (const c of chunks) p.write(c);
    return out;
  };
  const whole = (s: string) => [Buffer.from(s)];
  const bytewise = (s: string) => [...Buffer.from(s)].map((b) => Buffer.from([b]));

  it('whitespace past maxStanzaBytes before an element is refused whether it arrives in one read or many', () => {
    const input = `${CLIENT_HEADER}<a/>${' '.repeat(150)}<b/>`;
    expect(events(whole(input))).toEqual(['start', 'a', 'error:policy-violation']);
    expect(events(bytewise(input))).toEqual(['start', 'a', 'error:policy-violation']);
  });

  it('a syntax error before the limit is crossed wins in every chunking, and vice versa', () => {
    const early = `${CLIENT_HEADER}<a>&bad</a>${'x'.repeat(200)}`;
    expect(events(whole(early))).toEqual(events(bytewise(early)));
    const late = `${' '.repeat(400)}<?xml version='1.0'?>`;
    expect(events(whole(late))).toEqual(['error:policy-violation']);
    expect(events(bytewise(late))).toEqual(['error:policy-violation']);
  });

  it('encoding sniffing looks at the first two bytes together, however they arrive', () => {
    const input = Buffer.concat([Buffer.from([0x1b, 0x00]), Buffer.from(CLIENT_HEADER)]);
    expect(events([input])).toEqual(['error:unsupported-encoding']);
    expect(events([...input].map((b) => Buffer.from([b])))).toEqual(['error:unsupported-encoding']);
  });

  it('a UTF-8 character split across reads before invalid bytes is still parsed', () => {
    const input = Buffer.concat([Buffer.from(`${CLIENT_HEADER}<b>é</b>`), Buffer.from([0xff])]);
    const cut = Buffer.from(`${CLIENT_HEADER}<b>`).length + 1; // inside é
    expect(events([input])).toEqual(['start', 'b', 'error:not-well-formed']);
    expect(events([input.subarray(0, cut), input.subarray(cut)])).toEqual(['start', 'b', 'error:not-well-formed']);
  });
});
