import { describe, expect, it, beforeEach } from '@jest/globals';
import { Container } from 'inversify';
import {
  AccountStore,
  Authenticator,
  Clock,
  MemoryAccountStoreImpl,
  deriveScramCredentials,
  type ScramCredentials,
} from '@strand/core';
import {
  AuthenticatorImpl,
  ScramIterations,
  SUPPORTED_MECHANISMS,
  createSaslMechanism,
  decodeSaslName,
  decodeSaslPayload,
  encodeSaslPayload,
  type SaslMechanism,
  type SaslStep,
} from '../../src/sasl/index.js';
import { ScramClient, type Hash } from './scram-client.js';

const DOMAIN = 'localhost';
const b = (s: string) => Buffer.from(s, 'utf8');

function mech(name: string, auth: Authenticator, options = {}): SaslMechanism {
  const m = createSaslMechanism(name, auth, DOMAIN, options);
  if (!m) throw new Error(`no ${name}`);
  return m;
}

function expectFailure(step: SaslStep, condition: string, text?: string) {
  expect(step.kind).toBe('failure');
  if (step.kind === 'failure') {
    expect(step.condition).toBe(condition);
    if (text !== undefined) expect(step.text).toBe(text);
  }
}

function challenge(step: SaslStep): Buffer {
  if (step.kind !== 'challenge') throw new Error(`expected a challenge, got ${JSON.stringify(step)}`);
  return step.data;
}

let store: MemoryAccountStoreImpl;
let auth: AuthenticatorImpl;
beforeEach(async () => {
  store = new MemoryAccountStoreImpl();
  auth = new AuthenticatorImpl(store);
  await auth.createAccount('alice', 'secret');
});

describe('SCRAM test vectors', () => {
  const vectors: Array<{
    hash: Hash;
    salt: string;
    clientFirst: string;
    serverNonce: string;
    serverFirst: string;
    clientFinal: string;
    serverFinal: string;
  }> = [
    {
      hash: 'SHA-1', // RFC 5802 §5
      salt: 'QSXCR+Q6sek8bf92',
      clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
      serverNonce: '3rfcNHYJY1ZVvWVs7j',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    },
    {
      hash: 'SHA-256', // RFC 7677 §3
      salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
      clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
      serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinal:
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    },
  ];

  for (const v of vectors) {
    it(`SCRAM-${v.hash} reproduces the RFC exchange`, async () => {
      const creds = (hash: Hash, salt: string): ScramCredentials =>
        deriveScramCredentials(hash, 'pencil', 4096, Buffer.from(salt, 'base64'));
      await store.put({
        username: 'user',
        scram: { 'SHA-1': creds('SHA-1', v.salt), 'SHA-256': creds('SHA-256', v.salt) },
        createdAt: 0,
      });
      const m = mech(`SCRAM-${v.hash}`, auth, { serverNonce: () => v.serverNonce });
      expect(challenge(await m.start(b(v.clientFirst))).toString()).toBe(v.serverFirst);
      // our test client computes the RFC's client-final from the RFC's server-first
      const client = new ScramClient(v.hash, 'user', 'pencil', v.clientFirst.split('r=')[1]!);
      expect(client.clientFinal(v.serverFirst).toString()).toBe(v.clientFinal);
      const done = await m.step(b(v.clientFinal));
      expect(done).toEqual({ kind: 'success', username: 'user', additionalData: b(v.serverFinal) });
      expect(client.verifyServerFinal(done.kind === 'success' ? done.additionalData : undefined)).toBe(true);
    });
  }
});

describe.each(['SHA-1', 'SHA-256'] as const)('SCRAM-%s', (hash) => {
  const name = `SCRAM-${hash}`;

  async function run(client: ScramClient, initial = true, options = {}) {
    const m = mech(name, auth, options);
    let first: SaslStep;
    if (initial) first = await m.start(client.clientFirst());
    else {
      expect(challenge(await m.start(undefined))).toEqual(Buffer.alloc(0));
      first = await m.step(client.clientFirst());
    }
    const serverFirst = challenge(first);
    return { m, serverFirst, final: await m.step(client.clientFinal(serverFirst)) };
  }

  it('authenticates with an initial response and proves the server knows the password', async () => {
    const client = new ScramClient(hash, 'alice', 'secret', 'abcdefghijklmnop');
    const { serverFirst, final } = await run(client);
    const attrs = serverFirst.toString().split(',');
    expect(attrs[0]!.startsWith('r=abcdefghijklmnop')).toBe(true);
    // server nonce part: ≥ 128 bits
    expect(Buffer.from(attrs[0]!.slice('r=abcdefghijklmnop'.length), 'base64').length).toBeGreaterThanOrEqual(16);
    expect(attrs[2]).toBe('i=4096');
    expect(final.kind).toBe('success');
    if (final.kind === 'success') {
      expect(final.username).toBe('alice');
      expect(client.verifyServerFinal(final.additionalData)).toBe(true);
    }
  });

  it('authenticates without an initial response (empty challenge first)', async () => {
    const { final } = await run(new ScramClient(hash, 'alice', 'secret', 'nonce1234'), false);
    expect(final.kind).toBe('success');
  });

  it('uses fresh server nonces', async () => {
    const a = await run(new ScramClient(hash, 'alice', 'secret', 'same'));
    const c = await run(new ScramClient(hash, 'alice', 'secret', 'same'));
    expect(a.serverFirst.toString()).not.toBe(c.serverFirst.toString());
  });

  it('normalises the username (case, NFKC) and decodes =2C / =3D', async () => {
    await auth.createAccount('a,b=c', 'pw');
    const r1 = await run(new ScramClient(hash, 'A,B=C', 'pw', 'n1'));
    expect(r1.final).toMatchObject({ kind: 'success', username: 'a,b=c' });
    await auth.createAccount('ﬁsh', 'pw'); // U+FB01 LATIN SMALL LIGATURE FI → "fish" under NFKC
    const r2 = await run(new ScramClient(hash, 'fish', 'pw', 'n2'));
    expect(r2.final).toMatchObject({ kind: 'success', username: 'fish' });
  });

  it('accepts gs2 flag y, refuses p (no -PLUS variants advertised)', async () => {
    expect((await run(new ScramClient(hash, 'alice', 'secret', 'n', '', 'y'))).final.kind).toBe('success');
    const m = mech(name, auth);
    expectFailure(await m.start(b('p=tls-unique,,n=alice,r=abc')), 'malformed-request', 'channel-binding-not-supported');
  });

  it('accepts an authzid equal to the bare JID, refuses any other', async () => {
    expect((await run(new ScramClient(hash, 'alice', 'secret', 'n', 'alice@localhost'))).final.kind).toBe('success');
    expect((await run(new ScramClient(hash, 'alice', 'secret', 'n', 'Alice@LocalHost'))).final.kind).toBe('success');
    for (const authzid of ['bob@localhost', 'alice@example.com', 'alice@localhost/res']) {
      expectFailure((await run(new ScramClient(hash, 'alice', 'secret', 'n', authzid))).final, 'invalid-authzid');
    }
  });

  it('refuses a wrong password with not-authorized', async () => {
    const client = new ScramClient(hash, 'alice', 'wrong', 'n');
    const { final } = await run(client);
    expectFailure(final, 'not-authorized');
  });

  it('walks unknown users through the same steps with a deterministic fake salt', async () => {
    const secret = Buffer.from('server secret');
    const r1 = await run(new ScramClient(hash, 'nobody', 'x', 'n1'), true, { fakeSaltSecret: secret, fakeIterations: 4096 });
    const r2 = await run(new ScramClient(hash, 'nobody', 'y', 'n2'), true, { fakeSaltSecret: secret, fakeIterations: 4096 });
    const r3 = await run(new ScramClient(hash, 'nobody2', 'y', 'n3'), true, { fakeSaltSecret: secret, fakeIterations: 4096 });
    const salt = (s: Buffer) => s.toString().split(',')[1]!;
    const real = await run(new ScramClient(hash, 'alice', 'wrong', 'n4'));
    expect(salt(r1.serverFirst)).toBe(salt(r2.serverFirst));
    expect(salt(r1.serverFirst)).not.toBe(salt(r3.serverFirst));
    // same shape as a real account: 16-byte salt, same iteration count
    expect(Buffer.from(salt(r1.serverFirst).slice(2), 'base64').length).toBe(
      Buffer.from(salt(real.serverFirst).slice(2), 'base64').length,
    );
    expect(r1.serverFirst.toString().split(',')[2]).toBe(real.serverFirst.toString().split(',')[2]);
    expectFailure(r1.final, 'not-authorized');
    expectFailure(r3.final, 'not-authorized');
    expect(r1.final).toEqual(real.final);
  });

  describe('malformed client-first-message', () => {
    const cases: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0xff])],
      ['missing gs2 header', b('n=alice,r=abc')],
      ['bad cbind flag', b('x,,n=alice,r=abc')],
      ['missing username', b('n,,r=abc')],
      ['empty username', b('n,,n=,r=abc')],
      ['bad saslname escape', b('n,,n=al=2Xice,r=abc')],
      ['bad authzid', b('n,z=bob,n=alice,r=abc')],
      ['missing nonce', b('n,,n=alice')],
      ['empty nonce', b('n,,n=alice,r=')],
      ['reserved m= extension', b('n,,m=ext,n=alice,r=abc')],
      ['bad extension attribute', b('n,,n=alice,r=abc,garbage')],
    ];
    it.each(cases)('%s → malformed-request', async (_, message) => {
      const m = mech(name, auth);
      expectFailure(await m.start(message), 'malformed-request');
      expectFailure(await m.step(message), 'malformed-request'); // exchange is over
    });
  });

  describe('malformed or mismatching client-final-message', () => {
    async function afterFirst(username = 'alice') {
      const client = new ScramClient(hash, username, 'secret', 'clientnonce');
      const m = mech(name, auth);
      const serverFirst = challenge(await m.start(client.clientFirst()));
      const good = client.clientFinal(serverFirst).toString();
      const nonce = serverFirst.toString().split(',')[0]!.slice(2);
      return { m, good, nonce };
    }
    const replaceAttr = (msg: string, key: string, value: string) =>
      msg
        .split(',')
        .map((a) => (a.startsWith(`${key}=`) ? `${key}=${value}` : a))
        .join(',');

    it.each([
      ['empty', () => ''],
      ['missing proof', (g: string) => g.slice(0, g.lastIndexOf(',p='))],
      ['missing channel binding', (g: string) => g.slice(g.indexOf(',') + 1)],
      ['bad base64 proof', (g: string) => replaceAttr(g, 'p', 'not*base64')],
      ['bad base64 channel binding', (g: string) => replaceAttr(g, 'c', 'b!ws')],
      ['short proof', (g: string) => replaceAttr(g, 'p', 'AAAA')],
    ])('%s → malformed-request', async (_, mutate) => {
      const { m, good } = await afterFirst();
      expectFailure(await m.step(b(mutate(good))), 'malformed-request');
    });

    it('nonce mismatch → not-authorized', async () => {
      const { m, good, nonce } = await afterFirst();
      expectFailure(await m.step(b(replaceAttr(good, 'r', nonce + 'x'))), 'not-authorized', 'nonce mismatch');
    });

    it('channel binding data not repeating the gs2 header → not-authorized', async () => {
      const { m, good } = await afterFirst();
      const yHeader = Buffer.from('y,,').toString('base64');
      expectFailure(await m.step(b(replaceAttr(good, 'c', yHeader))), 'not-authorized');
    });

    it('any step after success → malformed-request', async () => {
      const { m, good } = await afterFirst();
      expect((await m.step(b(good))).kind).toBe('success');
      expectFailure(await m.step(b(good)), 'malformed-request');
      expectFailure(await m.start(undefined), 'malformed-request');
    });
  });
});

describe('PLAIN', () => {
  const msg = (authzid: string, authcid: string, password: string) => b(`${authzid}\0${authcid}\0${password}`);

  it('authenticates with an initial response', async () => {
    expect(await mech('PLAIN', auth).start(msg('', 'alice', 'secret'))).toEqual({ kind: 'success', username: 'alice' });
  });

  it('sends an empty challenge without an initial response', async () => {
    const m = mech('PLAIN', auth);
    expect(await m.start(undefined)).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    expect(await m.step(msg('', 'Alice', 'secret'))).toEqual({ kind: 'success', username: 'alice' });
    expectFailure(await m.step(msg('', 'alice', 'secret')), 'malformed-request');
  });

  it('accepts the bare JID as authzid, refuses other authzids', async () => {
    expect((await mech('PLAIN', auth).start(msg('alice@localhost', 'alice', 'secret'))).kind).toBe('success');
    for (const authzid of ['bob@localhost', 'alice@localhost/phone', 'alice@other', 'not a jid@']) {
      expectFailure(await mech('PLAIN', auth).start(msg(authzid, 'alice', 'secret')), 'invalid-authzid');
    }
    // a wrong password with a bad authzid is not-authorized: nothing is revealed before authentication
    expectFailure(await mech('PLAIN', auth).start(msg('bob@localhost', 'alice', 'nope')), 'not-authorized');
  });

  it('refuses wrong passwords and unknown users alike', async () => {
    expect(await mech('PLAIN', auth).start(msg('', 'alice', 'wrong'))).toEqual({ kind: 'failure', condition: 'not-authorized' });
    expect(await mech('PLAIN', auth).start(msg('', 'nobody', 'secret'))).toEqual({ kind: 'failure', condition: 'not-authorized' });
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['two fields', b('alice\0secret')],
    ['four fields', b('\0alice\0secret\0x')],
    ['empty authcid', msg('', '', 'secret')],
    ['empty password', msg('', 'alice', '')],
    ['invalid UTF-8', Buffer.concat([b('\0alice\0'), Buffer.from([0xc3, 0x28])])],
  ])('%s → malformed-request', async (_, message) => {
    expectFailure(await mech('PLAIN', auth).start(message), 'malformed-request');
  });
});

describe('store failures', () => {
  const broken: Authenticator = {
    createAccount: async () => {},
    verifyPassword: async () => {
      throw new Error('db down');
    },
    scramCredentials: async () => {
      throw new Error('db down');
    },
  };
  it.each(SUPPORTED_MECHANISMS)('%s → temporary-auth-failure', async (name) => {
    const first = name === 'PLAIN' ? msg0() : b('n,,n=alice,r=abc');
    expectFailure(await mech(name, broken).start(first), 'temporary-auth-failure');
  });
  const msg0 = () => b('\0alice\0secret');
});

describe('factory and payload helpers', () => {
  it('creates every supported mechanism and nothing else', () => {
    for (const name of SUPPORTED_MECHANISMS) expect(createSaslMechanism(name, auth, DOMAIN)?.name).toBe(name);
    expect(createSaslMechanism('DIGEST-MD5', auth, DOMAIN)).toBeUndefined();
    expect(createSaslMechanism('scram-sha-1', auth, DOMAIN)).toBeUndefined();
  });

  it('decodes <auth/> and <response/> payloads (RFC 6120 §6.4.2)', () => {
    expect(decodeSaslPayload('')).toBeUndefined();
    expect(decodeSaslPayload('=')).toEqual(Buffer.alloc(0));
    expect(decodeSaslPayload(' AGFsaWNlAHNlY3JldA== ')).toEqual(b('\0alice\0secret'));
    expect(decodeSaslPayload('AGFsaWNlAHNlY3JldA')).toBe('incorrect-encoding');
    expect(decodeSaslPayload('AG*s')).toBe('incorrect-encoding');
    expect(encodeSaslPayload(Buffer.alloc(0))).toBe('=');
    expect(encodeSaslPayload(b('v=x'))).toBe('dj14');
  });

  it('decodes saslnames', () => {
    expect(decodeSaslName('a=2Cb=3D=3D2C')).toBe('a,b==2C');
    expect(decodeSaslName('a=2c')).toBeUndefined();
    expect(decodeSaslName('a=')).toBeUndefined();
    expect(decodeSaslName('')).toBeUndefined();
  });
});

describe('AuthenticatorImpl', () => {
  it('stores salted keys for both hashes, never the password', async () => {
    const record = await store.get('alice');
    expect(record?.scram['SHA-1'].iterations).toBe(4096);
    expect(record?.scram['SHA-256'].iterations).toBe(4096);
    expect(JSON.stringify(record)).not.toContain('secret');
    expect(record?.scram['SHA-1'].salt).not.toBe(record?.scram['SHA-256'].salt);
  });

  it('verifies passwords, normalising the username', async () => {
    expect(await auth.verifyPassword('alice', 'secret')).toBe(true);
    expect(await auth.verifyPassword('ALICE', 'secret')).toBe(true);
    expect(await auth.verifyPassword('alice', 'Secret')).toBe(false);
    expect(await auth.verifyPassword('nobody', 'secret')).toBe(false);
  });

  it('replaces credentials but keeps createdAt', async () => {
    const before = await store.get('alice');
    await auth.createAccount('Alice', 'new');
    const after = await store.get('alice');
    expect(after?.createdAt).toBe(before?.createdAt);
    expect(await auth.verifyPassword('alice', 'secret')).toBe(false);
    expect(await auth.verifyPassword('alice', 'new')).toBe(true);
    expect(await store.list()).toEqual(['alice']);
  });

  it('rejects invalid usernames, empty passwords and bad iteration counts', async () => {
    for (const u of ['', 'a@b', 'a/b', 'a b', "o'neil", 'x'.repeat(1024)]) {
      await expect(auth.createAccount(u, 'pw')).rejects.toThrow(/invalid username/);
    }
    await expect(auth.createAccount('bob', '')).rejects.toThrow(/empty password/);
    expect(() => new AuthenticatorImpl(store, 0)).toThrow(RangeError);
  });

  it('resolves from a container with the iteration count and clock tokens', async () => {
    const c = new Container();
    c.bind(AccountStore).to(MemoryAccountStoreImpl).inSingletonScope();
    c.bind(ScramIterations).toConstantValue(5000);
    c.bind(Clock).toConstantValue({ now: () => 1234 });
    c.bind(Authenticator).to(AuthenticatorImpl).inSingletonScope();
    await c.get<Authenticator>(Authenticator).createAccount('bob', 'pw');
    const record = await c.get<MemoryAccountStoreImpl>(AccountStore).get('bob');
    expect(record?.scram['SHA-256'].iterations).toBe(5000);
    expect(record?.createdAt).toBe(1234);

    const d = new Container();
    d.bind(AccountStore).to(MemoryAccountStoreImpl).inSingletonScope();
    d.bind(Authenticator).to(AuthenticatorImpl);
    await d.get<Authenticator>(Authenticator).createAccount('bob', 'pw');
    expect((await d.get<AccountStore>(AccountStore).get('bob'))?.scram['SHA-1'].iterations).toBe(4096);
  });
});
