// Times each step of a resumption (connect, stream header, SASL PLAIN, restart, <resume/>) against
// a running Strand on 127.0.0.1:PORT with account alice/secret (SM enabled):
//   node bench/probes/resume-steps.mjs [rounds=100] [port=17555]
// Prints the median of every step in ms. Used for bench/RESULTS.md "resume: where the time goes".
import net from 'node:net';
const H = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`;
function step(sock, send, until) {
  return new Promise((resolve) => {
    let buf = '';
    const t0 = process.hrtime.bigint();
    const on = (d) => { buf += d; if (until.test(buf)) { sock.off('data', on); resolve([Number(process.hrtime.bigint() - t0) / 1e6, buf]); } };
    sock.on('data', on);
    if (send) sock.write(send);
  });
}
async function conn() { const s = net.connect(PORT, '127.0.0.1'); s.setNoDelay(true); s.setEncoding('utf8'); await new Promise((r) => s.once('connect', r)); return s; }
const N = Number(process.argv[2] ?? 100);
const PORT = Number(process.argv[3] ?? 17555);
const res = { connect: [], header: [], auth: [], restart: [], resume: [], total: [] };
let s = await conn();
await step(s, H, /<\/stream:features>/); await step(s, AUTH, /<success/); await step(s, H, /<\/stream:features>/);
await step(s, `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`, /<\/iq>/);
const [, en] = await step(s, `<enable xmlns='urn:xmpp:sm:3' resume='true'/>`, /<enabled[^>]*>/);
const id = /id="([^"]+)"/.exec(en)[1];
for (let i = 0; i < N; i++) {
  s.destroy();
  await new Promise((r) => setTimeout(r, 5));
  const t0 = process.hrtime.bigint();
  s = await conn();
  res.connect.push(Number(process.hrtime.bigint() - t0) / 1e6);
  res.header.push((await step(s, H, /<\/stream:features>/))[0]);
  res.auth.push((await step(s, AUTH, /<success/))[0]);
  res.restart.push((await step(s, H, /<\/stream:features>/))[0]);
  res.resume.push((await step(s, `<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`, /<resumed[^>]*>/))[0]);
  res.total.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
s.destroy();
const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(8), med(v).toFixed(3), 'ms');
process.exit(0);
