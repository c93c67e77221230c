// Issue 12's "Done when", through the real interfaces: the console (real binary, driven in the
// browser), two gate replicas enrolled with the commands the Gates page shows and serving HTTPS
// with the certificate the console issued, sharing a Redis for cluster-wide limits, an upstream.
// A Python OAuth client (Authlib, PyJWT) trusting only the console's CA gets a token from gate 1
// over HTTPS and calls the API through both gates in turn: the cluster policy admits burst + 1
// in total, then both gates answer 429. The Clients page shows the secret's last use and the
// token the gates issued. A certificate rotation in the browser reaches both gates while a
// bounded loop of fresh HTTPS connections runs: no request fails, and both gates then serve the
// key whose pin the pin set listed as the backup.
import { test, expect } from '@playwright/test';
import { createHash, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startConsole, setupOwner, open, createKeySet, registerService, Console } from './console';
import { startUpstream, prepareGate, enrol, serve, startRedis, Upstream, Gate, Redis } from './gate';

const HOST = 'api.palisade.test';
const NAMES = ['edge-1', 'edge-2'];
// The cluster policy on /api: 5 per minute, burst 4, counted per client. A fresh client may send
// burst + 1 = 5 requests at once (policy::gcra::Quota), then one per 12 s.
const RATE = 5;
const BURST = 4;
const CALLS = 12;
// The rotation loop's bounds: it stops once both gates have served the new certificate for a
// while, and never runs longer or further than this.
const LOOP_MAX_MS = 45_000;
const LOOP_MAX_REQUESTS = 4_000;
const AFTER_SWITCH = 40;
/** Clients per gate, each sending one request at a time, every one on a new connection. */
const WORKERS_PER_GATE = 3;

let c: Console;
let upstream: Upstream;
let redis: Redis;
let tmp: string;
const gates: Gate[] = [];
test.beforeAll(async () => {
  c = await startConsole();
  redis = await startRedis();
  upstream = await startUpstream();
  for (const _ of NAMES) gates.push(await prepareGate());
  tmp = mkdtempSync(join(tmpdir(), 'palisade-gate-done-'));
});
test.afterAll(async () => {
  for (const g of gates) await g.stop();
  await upstream?.stop();
  await redis?.stop();
  await c?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sha256b64 = (der: Buffer) => createHash('sha256').update(der).digest('base64');

interface Hit { gate: number; ok: boolean; status?: number; pin?: string; error?: string }

/** One GET over a new TLS connection to a gate (SNI and name check: HOST, trust: the CA only);
 * resolves with the status and the SPKI pin of the certificate the gate presented. */
function httpsGet(addr: string, ca: string, gate: number): Promise<Hit> {
  const [hostname, port] = addr.split(':');
  return new Promise((ok) => {
    const req = httpsRequest({
      host: hostname, port: Number(port), servername: HOST, path: '/status', method: 'GET',
      headers: { host: HOST }, ca, agent: false, timeout: 5_000,
    }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
      const pin = peer ? sha256b64(new X509Certificate(peer.raw).publicKey.export({ type: 'spki', format: 'der' })) : undefined;
      res.resume();
      res.on('end', () => ok({ gate, ok: res.statusCode === 200, status: res.statusCode, pin }));
      res.on('error', (e) => ok({ gate, ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => ok({ gate, ok: false, error: e.message }));
    req.end();
  });
}

test('issue 12 done: HTTPS token from a gate, a cluster limit shared by two replicas, last use shown, rotation without a failed request', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);

  // A CA and a certificate for the API's hostname; the CA's certificate as a user downloads it.
  await open(page, `${c.baseUrl}/certificates`);
  await page.getByRole('button', { name: 'Create root CA' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Created CN=Palisade Internal Root CA' })).toBeVisible();
  await page.getByRole('textbox', { name: 'Hostname', exact: true }).fill(HOST);
  await page.getByRole('spinbutton', { name: 'Validity (days)', exact: true }).fill('90');
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Issued' })).toBeVisible();
  await expect(page.getByRole('heading', { name: HOST, level: 3 })).toBeVisible();
  const download = page.waitForEvent('download');
  await page.getByRole('table', { name: 'Internal CAs' }).getByRole('link', { name: /^Download the chain of CN=Palisade Internal Root CA/ }).click();
  const caPath = join(tmp, 'ca.pem');
  await (await download).saveAs(caPath);
  const caPem = readFileSync(caPath, 'utf8');
  expect(new X509Certificate(caPem).ca).toBe(true);

  // The pins the apps ship: the current key and the pre-generated backup.
  await open(page, `${c.baseUrl}/pin-sets`);
  const pinCard = page.getByRole('region', { name: `${HOST} — version 1` });
  const pinOf = async (text: string) => (await pinCard.getByRole('row').filter({ hasText: text }).locator('code').first().textContent())!.trim();
  const currentPin = await pinOf('current leaf');
  const backupPin = await pinOf('no (backup)');
  expect(backupPin).not.toBe(currentPin);

  // A key set and a service client (its secret shown once).
  await createKeySet(page, c, 'api-tokens');
  const { clientId, secret } = await registerService(page, c, 'Orders');
  await expect(page.getByRole('row').filter({ hasText: 'Orders' })).toContainText('client_secret_basic');

  // Gate settings: the issuer and audience of the API, routes, the token key set, HTTPS.
  await open(page, `${c.baseUrl}/gates`);
  const card = page.getByRole('region', { name: 'Gate settings' });
  await card.getByRole('textbox', { name: 'Issuer (exact iss accepted)' }).fill(`https://${HOST}`);
  await card.getByRole('textbox', { name: 'Audiences (aud; comma-separated)' }).fill('orders-api');
  await card.getByRole('textbox', { name: /^Routes \(one per line/ }).fill('prefix /api * bearer\nprefix / * none');
  await card.getByRole('combobox', { name: 'Token endpoint: signs with key set' }).selectOption('api-tokens');
  await card.getByRole('combobox', { name: 'HTTPS: gates serve the certificate of' }).selectOption(HOST);
  await card.getByRole('button', { name: 'Save gate settings' }).click();
  await expect(card.getByRole('status').filter({ hasText: 'Gate settings saved' })).toBeVisible();

  // A cluster-wide policy on the API, per client, enforced (the passkey confirms it).
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.getByRole('textbox', { name: 'Policy name' }).fill('api per client');
  await page.getByRole('textbox', { name: 'Path', exact: true }).fill('/api');
  await page.getByRole('combobox', { name: 'Count per' }).selectOption('client');
  await page.getByRole('spinbutton', { name: 'Requests', exact: true }).fill(String(RATE));
  await page.getByRole('combobox', { name: 'Per', exact: true }).selectOption('minute');
  await page.getByRole('spinbutton', { name: 'Burst', exact: true }).fill(String(BURST));
  await page.getByRole('combobox', { name: 'Scope' }).selectOption('cluster');
  await page.getByRole('button', { name: /Create policy/ }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved api per client' })).toBeVisible();
  await page.getByRole('row').filter({ hasText: 'api per client' }).getByRole('button', { name: 'Switch to enforce' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'api per client' }).getByText('enforce', { exact: true })).toBeVisible();
  expect(dialogs.at(-1)).toContain('Enforce api per client?');

  // Two gates, each enrolled with the command shown once, serving HTTPS and sharing the Redis.
  await open(page, `${c.baseUrl}/gates`);
  const table = page.getByRole('table', { name: 'Gates' });
  const rowOf = (name: string) => table.getByRole('row').filter({ hasText: name, hasNotText: 'refused a bundle' });
  for (const [i, name] of NAMES.entries()) {
    await page.getByRole('textbox', { name: 'Gate name' }).fill(name);
    await page.getByRole('textbox', { name: /Push URL/ }).fill(gates[i].adminUrl);
    await page.getByRole('button', { name: 'Add gate' }).click();
    await expect(page.getByRole('heading', { name: `Enrol ${name}` })).toBeVisible();
    const command = await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue();
    enrol(gates[i], command);
    await serve(gates[i], upstream.url, { pullSecs: 1, tls: true, redis: redis.url });
  }
  for (const name of NAMES) await expect(rowOf(name)).toContainText('in sync', { timeout: 15_000 });
  await expect(page.getByRole('status', { name: 'Convergence' })).toContainText('2 of 2 enrolled gates run the latest version');
  await expect(page.getByText('cannot receive signing keys')).toHaveCount(0);

  // Both gates present the issued certificate (the current pin) to a client trusting the CA.
  for (const [i, g] of gates.entries()) {
    const hit = await httpsGet(g.tlsAddr!, caPem, i + 1);
    expect(hit, `gate ${i + 1} over HTTPS`).toMatchObject({ ok: true, pin: currentPin });
  }

  // The Python OAuth client: token from gate 1 over HTTPS, then the API through both gates.
  const upstreamBefore = upstream.hits;
  const python = resolve(__dirname, '../../target/oauth-venv/bin/python');
  const script = resolve(__dirname, '../python/https_oauth_client.py');
  const { stdout } = await promisify(execFile)(python, [script], {
    env: {
      ...process.env,
      PALISADE_HTTPS_OAUTH: JSON.stringify({
        hostname: HOST, ca_pem: caPath, gates: gates.map((g) => g.tlsAddr), client_id: clientId,
        secret, audience: 'orders-api', api_path: '/api/orders', calls: CALLS,
      }),
    },
    timeout: 60_000,
  });
  const out = JSON.parse(stdout);
  console.log(`Python client over HTTPS: ${out.calls.map((r: { gate: number; status: number }) => `gate ${r.gate}: ${r.status}`).join(', ')}`);
  expect(out.without_ca, 'the certificate is refused without the console\'s CA').toMatch(/^SSLError: .*CERTIFICATE_VERIFY_FAILED/);
  expect(out.metadata.token_endpoint).toBe(`https://${HOST}/oauth/token`);
  expect(out.token_type).toBe('Bearer');
  expect(out.claims).toMatchObject({ iss: `https://${HOST}`, aud: 'orders-api', sub: clientId, client_id: clientId });
  const statuses: number[] = out.calls.map((r: { status: number }) => r.status);
  const admitted = BURST + 1;
  expect(statuses, 'burst + 1 admitted across both gates, then 429').toEqual([
    ...Array(admitted).fill(200), ...Array(CALLS - admitted).fill(429),
  ]);
  const refusedBy = new Set(out.calls.filter((r: { status: number }) => r.status === 429).map((r: { gate: number }) => r.gate));
  const admittedBy = new Set(out.calls.filter((r: { status: number }) => r.status === 200).map((r: { gate: number }) => r.gate));
  expect([...admittedBy].sort()).toEqual([1, 2]);
  expect([...refusedBy].sort()).toEqual([1, 2]);
  expect(out.calls.find((r: { status: number }) => r.status === 429).ratelimit).toMatch(/;r=0;t=\d+$/);
  expect(upstream.hits - upstreamBefore).toBe(admitted);

  // The gates report the use: the Clients page shows the token and the secret's last use.
  await open(page, `${c.baseUrl}/clients`);
  const usage = page.getByLabel('Token usage of Orders');
  await expect(async () => {
    await page.reload();
    await expect(usage).toContainText('tokens issued by gates: 1 (last at', { timeout: 1_000 });
    await expect(page.getByRole('row').filter({ hasText: 'Orders' })).toContainText(/last used: \d{4}-\d\d-\d\d/, { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByRole('row').filter({ hasText: 'Orders' })).not.toContainText('not reported');
  await page.screenshot({ path: 'test-results/gate-done-clients.png', fullPage: true });

  // Rotation to the pre-shipped backup key in the browser while both gates take a bounded loop
  // of requests, each on a new TLS connection.
  const hits: Hit[] = [];
  let stop = false;
  const loopStarted = Date.now();
  const worker = async (g: Gate, n: number) => {
    let sinceSwitch = 0;
    while (!stop && hits.length < LOOP_MAX_REQUESTS && Date.now() - loopStarted < LOOP_MAX_MS) {
      const hit = await httpsGet(g.tlsAddr!, caPem, n);
      hits.push(hit);
      if (hit.pin === backupPin) sinceSwitch++;
      if (sinceSwitch >= AFTER_SWITCH) break;
    }
  };
  const loop = Promise.all(gates.flatMap((g, i) => Array.from({ length: WORKERS_PER_GATE }, () => worker(g, i + 1))));
  try {
    await open(page, `${c.baseUrl}/certificates`);
    await page.getByRole('button', { name: `Plan rotation of ${HOST} to the next key` }).click();
    const plan = page.getByRole('region', { name: `Rotation plan for ${HOST}` });
    await plan.getByRole('button', { name: 'Rotate now' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Rotated' })).toBeVisible();
    expect(dialogs.at(-1)).toContain(`Rotate ${HOST} to its pre-generated next key`);
  } catch (e) {
    stop = true;
    throw e;
  }
  await loop;
  const elapsed = Date.now() - loopStarted;

  const failed = hits.filter((h) => !h.ok);
  const perGate = [1, 2].map((n) => hits.filter((h) => h.gate === n));
  const count = (list: Hit[], pin: string) => list.filter((h) => h.pin === pin).length;
  console.log(`rotation loop: ${hits.length} requests on new connections in ${elapsed} ms ` +
    `(${perGate.map((h, i) => `gate ${i + 1}: ${count(h, currentPin)} old + ${count(h, backupPin)} new certificate`).join(', ')}), ` +
    `${failed.length} failed; pin before ${currentPin}, served after ${perGate.map((h) => h.at(-1)?.pin).join(' and ')}; ` +
    `the pin set's former backup pin ${backupPin}`);
  expect(failed, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`).toEqual([]);
  for (const [i, list] of perGate.entries()) {
    expect(list[0].pin, `gate ${i + 1} served the old certificate when the loop began`).toBe(currentPin);
    expect(list.at(-1)!.pin, `gate ${i + 1} serves the former backup key after the rotation`).toBe(backupPin);
    expect(new Set(list.map((h) => h.pin))).toEqual(new Set([currentPin, backupPin]));
  }

  // The console agrees: pin set version 2, whose current leaf pin is the former backup.
  await open(page, `${c.baseUrl}/pin-sets`);
  const v2 = page.getByRole('region', { name: `${HOST} — version 2` });
  await expect(v2.getByRole('row').filter({ hasText: 'current leaf' }).locator('code').first()).toHaveText(backupPin);
  await open(page, `${c.baseUrl}/gates`);
  for (const name of NAMES) await expect(rowOf(name)).toContainText('in sync', { timeout: 10_000 });
  await expect(page.getByRole('table', { name: 'Bundle versions' }).getByRole('row').nth(1))
    .toContainText(`HTTPS certificate of "${HOST}": SPKI pin ${currentPin} → ${backupPin}`);
  await page.screenshot({ path: 'test-results/gate-done-gates.png', fullPage: true });
  expect(errors).toEqual([]);
});
