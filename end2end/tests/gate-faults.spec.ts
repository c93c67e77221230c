// Issue #10, faults in real processes: bad bundles pushed straight to a gate's admin listener
// (truncated, one bit flipped, an older version replayed, signed by another console) are
// refused, the gate keeps enforcing its bundle, and the refusal shows on the Gates page; a gate
// killed while the console publishes serves its last-known-good at once when restarted and
// converges within two pull intervals, the page showing it behind, then in sync.
import { test, expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { startConsole, setupOwner, open, Console } from './console';
import { startUpstream, prepareGate, enrol, serve, Upstream, Gate } from './gate';

const PULL_SECS = 2;

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

const b64url = (b: Buffer) => b.toString('base64url');
const lastKnownGood = () => JSON.parse(readFileSync(join(gate.dataDir, 'bundle.json'), 'utf8'));
const versionOf = (env: { payload: string }) => JSON.parse(Buffer.from(env.payload, 'base64url').toString()).version as number;

async function push(body: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${gate.adminUrl}/v1/bundle`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.status, json: await r.json().catch(() => null) };
}

async function addPolicy(page: Page, name: string) {
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.getByRole('textbox', { name: 'Policy name' }).fill(name);
  await page.getByRole('textbox', { name: 'Path', exact: true }).fill(`/${name}`);
  await page.getByRole('button', { name: /Create policy/ }).click();
  await expect(page.getByRole('status').filter({ hasText: `Saved ${name}` })).toBeVisible();
}

test('gate: bad bundles refused and shown; killed and restarted, it serves its last bundle and converges', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', async (d) => { await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/gates`);
  await page.getByRole('textbox', { name: 'Gate name' }).fill('edge-f');
  await page.getByRole('textbox', { name: /Push URL/ }).fill(gate.adminUrl);
  await page.getByRole('button', { name: 'Add gate' }).click();
  enrol(gate, await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue());
  await serve(gate, upstream.url, PULL_SECS);
  const row = page.getByRole('table', { name: 'Gates' }).getByRole('row').filter({ hasText: 'edge-f', hasNotText: 'refused a bundle' });
  await expect(row).toContainText('in sync', { timeout: 15_000 });
  const older = lastKnownGood();

  await addPolicy(page, 'first');
  await expect.poll(() => versionOf(lastKnownGood()), { timeout: 10_000 }).toBeGreaterThan(versionOf(older));
  const good = lastKnownGood();
  const goodVersion = versionOf(good);

  // Each bad bundle: refused with a reason, the applied version unchanged, traffic still served.
  const payload = Buffer.from(good.payload, 'base64url');
  const flipped = Buffer.from(payload);
  flipped[Math.floor(flipped.length / 2)] ^= 0x01;
  const other = generateKeyPairSync('ed25519');
  const otherRaw = Buffer.from(other.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const foreign = {
    payload: good.payload,
    key_id: b64url(createHash('sha256').update(otherRaw).digest()),
    signature: b64url(sign(null, payload, other.privateKey)),
  };
  const cases: [string, string, number, RegExp][] = [
    ['truncated', JSON.stringify(good).slice(0, 80), 422, /corrupt|malformed|EOF|parse/i],
    ['one bit flipped', JSON.stringify({ ...good, payload: b64url(flipped) }), 422, /signature/i],
    ['older version replayed', JSON.stringify(older), 409, /older than the applied version/],
    ['signed by another console', JSON.stringify(foreign), 422, /not by the trusted key/],
  ];
  // Each refusal shows on the Gates page (which refreshes itself) before the next bad push,
  // with the version the gate keeps enforcing.
  await open(page, `${c.baseUrl}/gates`);
  const nack = page.getByRole('alert').filter({ hasText: 'edge-f refused a bundle' });
  for (const [what, body, status, reason] of cases) {
    const r = await push(body);
    expect(r.status, what).toBe(status);
    expect(r.json?.reason ?? '', what).toMatch(reason);
    expect(r.json?.applied_version, what).toBe(goodVersion);
    const through = await fetch(`${gate.url}/first`);
    expect(through.status, `${what}: the gate still serves`).toBe(200);
    await expect(nack, what).toContainText(reason, { timeout: 10_000 });
    await expect(nack, what).toContainText(`It keeps enforcing version ${goodVersion}`);
  }
  await expect(row).toContainText('in sync');

  // Kill the gate; the console publishes meanwhile; the page shows it behind.
  gate.proc!.kill('SIGKILL');
  await new Promise((ok) => gate.proc!.once('exit', ok));
  await addPolicy(page, 'second');
  await open(page, `${c.baseUrl}/gates`);
  await expect(row).toContainText('behind', { timeout: 10_000 });

  // Restarted: ready at once on its last-known-good, then in sync within two pull intervals.
  await serve(gate, upstream.url, PULL_SECS);
  const ready = await fetch(`${gate.adminUrl}/readyz`);
  expect(ready.status, 'ready on the last-known-good bundle before any contact').toBe(200);
  expect((await fetch(`${gate.url}/first`)).status).toBe(200);
  const restarted = Date.now();
  await expect(row).toContainText('in sync', { timeout: 2 * PULL_SECS * 1000 + 2_000 });
  console.log(`gate restarted → in sync on the Gates page after ${Date.now() - restarted} ms`);
  expect(versionOf(lastKnownGood())).toBeGreaterThan(goodVersion);
  await page.screenshot({ path: 'test-results/gate-faults.png', fullPage: true });
  expect(errors).toEqual([]);
});
