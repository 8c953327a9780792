/**
 * HTTPS: browsers give camera and microphone only to secure origins, so a meeting link
 * opened from another machine must be https://. A real coordinator over TLS on loopback,
 * spoken to by clients that trust only its certificate, as a browser does once its user
 * accepted the self-signed one.
 */
import { writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { ConfigError } from '../../coordinator/config';
import { generateSelfSigned, loadTls, tlsSourceFromEnv, type TlsSource } from '../../coordinator/tls';
import type { CreatedMeeting } from '../../protocol/rest';
import type { ServerMessage } from '../../protocol/signaling';
import { apiTrusting, startServer, tempDir, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const HOST = '127.0.0.1';
let ca: string;
let server: TestServer;
const temp = tempDir('meetmesh-tls-');
const sockets: WebSocket[] = [];

test.before(async () => {
  const tls = await generateSelfSigned(['localhost', HOST]);
  ca = tls.cert;
  server = await startServer({ host: HOST, tls });
});
test.after.each(() => {
  for (const s of sockets.splice(0)) s.terminate();
});
test.after(async () => {
  await server.dispose();
  temp.remove();
});

/** A signaling socket over wss:// that trusts only `trusted`, recording what arrives. */
async function connectWss(wsUrl: string, trusted: string): Promise<{ ws: WebSocket; received: ServerMessage[] }> {
  const ws = new WebSocket(wsUrl, { ca: trusted });
  sockets.push(ws);
  const received: ServerMessage[] = [];
  ws.on('message', (data: Buffer) => received.push(JSON.parse(data.toString('utf8')) as ServerMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received };
}

async function joinOverWss(meetingId: string, name: string) {
  const socket = await connectWss(server.wsUrl, ca);
  socket.ws.send(JSON.stringify({ type: 'join', id: 1, meetingId, name }));
  const reply = await waitFor(() => socket.received.find((m) => 'id' in m && m.id === 1), 5000, `${name}'s join reply`);
  if (reply.type !== 'joined') throw new Error(`join failed: ${JSON.stringify(reply)}`);
  return { ...socket, joined: reply };
}

/** The TLS error a client that does not trust the certificate gets (undefined: it connected). */
function untrustedGet(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    httpsGet(url, (response) => {
      response.resume();
      resolve(undefined);
    }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('the server listens on an https:// URL and answers health to a client trusting its certificate', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(server.wsUrl, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
  const { status, body } = await apiTrusting(ca, server.url, 'GET', '/api/health');
  assert.is(status, 200);
  assert.equal(body, { ok: true });
});

test('a client that does not trust the certificate is refused, so the connection really is TLS', async () => {
  const error = await untrustedGet(`${server.url}/api/health`);
  assert.is(error, 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

test('a meeting created over HTTPS gets an https:// link', async () => {
  const { status, body } = await apiTrusting<CreatedMeeting>(ca, server.url, 'POST', '/api/meetings', { title: 'Secure sync' });
  assert.is(status, 201);
  assert.is(body.link, `${server.url}/m/${body.id}`);
});

test('two participants join over wss:// and see each other', async () => {
  const { body: meeting } = await apiTrusting<CreatedMeeting>(ca, server.url, 'POST', '/api/meetings', { title: 'Over wss' });
  const alice = await joinOverWss(meeting.id, 'Alice');
  assert.is(alice.joined.meeting.id, meeting.id);
  assert.equal(alice.joined.participants, []);
  const bob = await joinOverWss(meeting.id, 'Bob');
  assert.equal(bob.joined.participants.map((p) => p.name), ['Alice']);
  const seen = await waitFor(
    () => alice.received.find((m) => m.type === 'participant-joined'),
    5000,
    'Alice to hear that Bob joined',
  );
  assert.is(seen.type === 'participant-joined' && seen.participant.name, 'Bob');
});

test('HTTPS=1 generates a certificate for HOST and localhost, and a restart reuses it so the accepted exception holds', async () => {
  const dir = join(temp.dir, 'restart');
  const source = tlsSourceFromEnv({ HTTPS: '1', TLS_DIR: dir }, { host: HOST });
  assert.ok(source?.kind === 'self-signed');
  const first = await loadTls(source);
  assert.is(first.origin, 'generated');
  assert.is(first.certPath, join(dir, 'cert.pem'));
  const x509 = new X509Certificate(first.cert);
  for (const ip of [HOST, '::1']) assert.ok(x509.checkIP(ip), `names ${ip}`);
  assert.ok(x509.checkHost('localhost', { subject: 'never' }), 'names localhost');

  // What the user's browser accepted the first time: the first certificate, nothing else.
  const accepted = first.cert;
  const before = await startServer({ host: HOST, tls: first });
  assert.is((await apiTrusting(accepted, before.url, 'GET', '/api/health')).status, 200);
  await before.dispose();

  const second = await loadTls(source);
  assert.is(second.origin, 'reused');
  assert.is(second.fingerprint256, first.fingerprint256);
  const after = await startServer({ host: HOST, tls: second });
  assert.is((await apiTrusting(accepted, after.url, 'GET', '/api/health')).status, 200);
  await after.dispose();
});

test('a PUBLIC_URL host the kept certificate does not name, or a certificate about to expire, gets a new one', async () => {
  const dir = join(temp.dir, 'renew');
  const plain = tlsSourceFromEnv({ HTTPS: '1', TLS_DIR: dir }, { host: HOST }) as TlsSource;
  const first = await loadTls(plain);

  const withName = tlsSourceFromEnv({ HTTPS: '1', TLS_DIR: dir }, { host: HOST, publicUrl: 'https://meet.example.test:8443' }) as TlsSource;
  const renamed = await loadTls(withName);
  assert.is(renamed.origin, 'generated');
  assert.is.not(renamed.fingerprint256, first.fingerprint256);
  assert.ok(new X509Certificate(renamed.cert).checkHost('meet.example.test', { subject: 'never' }));

  const in350Days = new Date(Date.now() + 350 * 24 * 3600_000);
  const renewed = await loadTls(withName, in350Days);
  assert.is(renewed.origin, 'generated');
  assert.ok(renewed.validTo.getTime() > in350Days.getTime() + 300 * 24 * 3600_000);
});

test('with HOST 0.0.0.0 the certificate names every local address, so a LAN link matches it', () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.168.1.20/24' },
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    ],
  } as const;
  const source = tlsSourceFromEnv({ HTTPS: '1' }, { host: '0.0.0.0' }, interfaces as unknown as Parameters<typeof tlsSourceFromEnv>[2]);
  assert.ok(source?.kind === 'self-signed');
  assert.ok(source.hosts.includes('192.168.1.20'));
  assert.ok(source.hosts.includes('localhost'));
  assert.not.ok(source.hosts.includes('fe80::1'), 'link-local addresses need a zone id no link carries');
});

test('TLS_CERT and TLS_KEY serve the operator certificate; a key of another certificate is refused naming TLS_KEY', async () => {
  const mine = await generateSelfSigned(['localhost', HOST]);
  const other = await generateSelfSigned(['localhost', HOST]);
  const certPath = join(temp.dir, 'fullchain.pem');
  const keyPath = join(temp.dir, 'privkey.pem');
  const wrongKeyPath = join(temp.dir, 'other-key.pem');
  writeFileSync(certPath, mine.cert);
  writeFileSync(keyPath, mine.key);
  writeFileSync(wrongKeyPath, other.key);

  const source = tlsSourceFromEnv({ TLS_CERT: certPath, TLS_KEY: keyPath }, { host: HOST });
  assert.equal(source, { kind: 'files', certPath, keyPath });
  const loaded = await loadTls(source!);
  assert.is(loaded.origin, 'files');
  const operated = await startServer({ host: HOST, tls: loaded });
  assert.is((await apiTrusting(mine.cert, operated.url, 'GET', '/api/health')).status, 200);
  await operated.dispose();

  try {
    await loadTls({ kind: 'files', certPath, keyPath: wrongKeyPath });
    assert.unreachable('a mismatched key was accepted');
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).variable, 'TLS_KEY');
    assert.match((err as Error).message, /is not the private key of the certificate in TLS_CERT/);
  }
});

test('half a TLS setting is refused with a sentence naming the missing variable', () => {
  for (const [env, variable] of [
    [{ TLS_CERT: '/etc/meetmesh/cert.pem' }, 'TLS_KEY'],
    [{ TLS_KEY: '/etc/meetmesh/key.pem' }, 'TLS_CERT'],
    [{ HTTPS: 'maybe' }, 'HTTPS'],
  ] as const) {
    try {
      tlsSourceFromEnv(env, { host: HOST });
      assert.unreachable(`${JSON.stringify(env)} was accepted`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).variable, variable);
    }
  }
  assert.is(tlsSourceFromEnv({}, { host: HOST }), undefined, 'plain HTTP by default');
  assert.is(tlsSourceFromEnv({ HTTPS: '0' }, { host: HOST }), undefined);
});

test.run();
