// Issue 12, item 1 across the real processes: the console (real binary) and a gate enrolled with
// the command the Gates page shows. In the browser: a key set, a service client (its secret shown
// once), the gate settings choosing that key set for the token endpoint. The gate receives the
// set's active key sealed to it, issues a client_credentials token that verifies against the
// gate's JWKS, and reports the use: the Clients page shows the secret's last use and the token
// count without anyone touching the gate. An older gate, enrolled without an encryption key, is
// named on the Gates page as one that cannot receive signing keys.
import { test, expect } from '@playwright/test';
import { createPublicKey, createVerify, generateKeyPairSync } from 'node:crypto';
import { startConsole, setupOwner, open, createKeySet, registerService, Console } from './console';
import { startUpstream, prepareGate, enrol, serve, Upstream, Gate } from './gate';

let c: Console;
let upstream: Upstream;
let gate: Gate;
test.beforeAll(async () => {
  c = await startConsole();
  upstream = await startUpstream();
  gate = await prepareGate();
});
test.afterAll(async () => {
  await gate?.stop();
  await upstream?.stop();
  await c?.stop();
});

const b64url = (s: string) => Buffer.from(s, 'base64url');

test('gate tokens: the chosen key set signs the gate\'s tokens; the Clients page shows the use', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', async (d) => { await d.accept(); });
  await setupOwner(page, c);

  await createKeySet(page, c, 'gate-tokens');
  const { clientId, secret } = await registerService(page, c, 'Orders');
  expect(clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);

  await open(page, `${c.baseUrl}/gates`);
  const card = page.getByRole('region', { name: 'Gate settings' });
  await card.getByRole('textbox', { name: 'Audiences (aud; comma-separated)' }).fill('orders-api');
  await card.getByRole('combobox', { name: 'Token endpoint: signs with key set' }).selectOption('gate-tokens');
  await card.getByRole('button', { name: 'Save gate settings' }).click();
  await expect(card.getByRole('status').filter({ hasText: 'Gate settings saved' })).toBeVisible();

  await page.getByRole('textbox', { name: 'Gate name' }).fill('edge-1');
  await page.getByRole('textbox', { name: /Push URL/ }).fill(gate.adminUrl);
  await page.getByRole('button', { name: 'Add gate' }).click();
  const command = await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue();
  enrol(gate, command);
  await serve(gate, upstream.url, 1);
  const row = page.getByRole('table', { name: 'Gates' }).getByRole('row').filter({ hasText: 'edge-1' });
  await expect(row.first()).toContainText('in sync', { timeout: 15_000 });
  // This gate registered its encryption key: no warning about signing keys.
  await expect(page.getByText('cannot receive signing keys')).toHaveCount(0);
  await expect(page.getByLabel('Token endpoint', { exact: true })).toContainText('key set "gate-tokens"');

  // A client_credentials token from the gate, signed with the key the console sealed to it.
  let answer: Record<string, unknown> = {};
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await fetch(`${gate.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    if (r.status === 200) { answer = await r.json(); break; }
    if (Date.now() > deadline) throw new Error(`no token: ${r.status} ${await r.text()}\n${gate.stderr.slice(-2000)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(answer.token_type).toBe('Bearer');
  const [h, p, s] = String(answer.access_token).split('.');
  const header = JSON.parse(b64url(h).toString());
  const claims = JSON.parse(b64url(p).toString());
  expect(header.alg).toBe('ES256');
  expect(claims.client_id ?? claims.sub).toBe(clientId);
  const jwks = await (await fetch(`${gate.url}/.well-known/jwks.json`)).json();
  const jwk = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
  expect(jwk).toBeTruthy();
  // Checked with node's own crypto, independently of the gate and the console.
  const ok = createVerify('SHA256').update(`${h}.${p}`)
    .verify({ key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, b64url(s));
  expect(ok).toBe(true);

  // The gate reports the use with its status: the Clients page shows it.
  await open(page, `${c.baseUrl}/clients`);
  const usage = page.getByLabel('Token usage of Orders');
  await expect(async () => {
    await page.reload();
    await expect(usage).toContainText('tokens issued by gates: 1 (last at', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByRole('row').filter({ hasText: 'Orders' })).not.toContainText('not reported');

  // An older gate enrols without an encryption key: the Gates page says what it lacks.
  await open(page, `${c.baseUrl}/gates`);
  await page.getByRole('textbox', { name: 'Gate name' }).fill('edge-old');
  await page.getByRole('button', { name: 'Add gate' }).click();
  const oldCommand = await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue();
  const token = oldCommand.split(/\s+/).find((w) => w.startsWith('--token='))!.slice('--token='.length);
  const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
  const enrolled = await fetch(`${c.baseUrl}/gate-api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, public_key: publicKey }),
  });
  expect(enrolled.status).toBe(200);
  await expect(page.getByRole('status').filter({ hasText: 'edge-old cannot receive signing keys' }))
    .toContainText('Re-enrol or upgrade it.');
  await expect(page.getByText('edge-1 cannot receive signing keys')).toHaveCount(0);
  expect(errors).toEqual([]);
});
