/**
 * Scale-out: an XEP-0114 component connected to node A serves users of every node — a user on
 * node B reaches it, its replies reach that user, and once it disconnects node B answers
 * `remote-server-not-found` again.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startClusterEnv, startNode, type ClusterEnv } from '../helpers/cluster.js';
import { COMPONENT, rawComponent, SECRET } from '../helpers/component.js';
import { until } from '../helpers/presence-probe.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';

describe('cluster: external components', () => {
  let env: ClusterEnv;
  let a: RunningServer;
  let b: RunningServer;
  let alice: TestXmpp | undefined;
  beforeAll(async () => {
    env = await startClusterEnv();
    a = await startNode(env, 'a', {
      overrides: { listen: { host: '127.0.0.1', c2s: 0, c2sTls: 0, http: 0, component: 0 }, components: [{ domain: COMPONENT, secret: SECRET }] },
    });
    b = await startNode(env, 'b');
    await until(() => b.server.cluster!.liveNodes.length === 2, 'B sees A', 5000);
  }, 60_000);
  afterAll(async () => {
    await alice?.stop();
    await a?.stop();
    await b?.stop();
    await env?.stop();
  });

  it('a user on node B talks with a component connected to node A', async () => {
    const port = a.server.ports.component!;
    const { raw } = await rawComponent(port);
    await until(() => b.server.cluster!.componentNode(COMPONENT) === 'a', 'B knows the component is on A', 5000);
    expect(b.server.cluster!.componentNode(`sub.${COMPONENT}`)).toBe('a'); // parent-domain rule, as locally

    alice = await startClient({ port: b.ports.c2s, username: 'alice', resource: 'desk' });
    await alice.xmpp.send(xml('message', { to: `bot@${COMPONENT}`, type: 'chat', id: 'c1' }, xml('body', {}, 'hello bot')));
    const got = await raw.waitFor(/<message [^>]*id="c1"[^>]*>.*?<\/message>/);
    expect(got).toMatch(/from="alice@localhost\/desk"/);

    const reply = alice.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello human');
    raw.send(`<message from='bot@${COMPONENT}' to='alice@localhost/desk' type='chat'><body>hello human</body></message>`);
    expect((await reply).attrs.from).toBe(`bot@${COMPONENT}`);

    // the component leaves: B forgets the route and bounces like for any unknown domain
    raw.destroy();
    await until(() => b.server.cluster!.componentNode(COMPONENT) === undefined, 'B forgets the component', 5000);
    const bounce = alice.waitFor((el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'c2');
    await alice.xmpp.send(xml('message', { to: `bot@${COMPONENT}`, type: 'chat', id: 'c2' }, xml('body', {}, 'anyone?')));
    expect((await bounce).getChild('error')?.getChild('remote-server-not-found')).toBeDefined();
  });
});
