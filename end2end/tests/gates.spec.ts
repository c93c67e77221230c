// Issue #10, the loop in real processes: the console (real binary), three gates each enrolled
// with the command the Gates page shows, an upstream. A policy switched to enforce in the
// browser is enforced by all three gates within a second (measured and printed); the 429
// carries Retry-After and the IETF RateLimit headers; the Gates page shows the gates converge
// without a reload; every step is in the audit log.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';
import { startUpstream, prepareGate, enrol, serve, Upstream, Gate } from './gate';

const NAMES = ['edge-1', 'edge-2', 'edge-3'];

let c: Console;
let upstream: Upstream;
const gates: Gate[] = [];
test.beforeAll(async () => {
  c = await startConsole();
  upstream = await startUpstream();
  for (const _ of NAMES) gates.push(await prepareGate());
});
test.afterAll(async () => {
  for (const g of gates) await g.stop();
  await upstream?.stop();
  await c?.stop();
});

test('gates: three enrolled from the Gates page enforce a policy within 1 s, 429 with headers, audited', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', async (d) => { await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/gates`);

  // Add each gate: its command is shown once; run exactly that command, then serve.
  const table = page.getByRole('table', { name: 'Gates' });
  const rowOf = (name: string) => table.getByRole('row').filter({ hasText: name, hasNotText: 'refused a bundle' });
  for (const [i, name] of NAMES.entries()) {
    await page.getByRole('textbox', { name: 'Gate name' }).fill(name);
    await page.getByRole('textbox', { name: 'Labels (optional)' }).fill(`region=eu, n=${i + 1}`);
    await page.getByRole('textbox', { name: /Push URL/ }).fill(gates[i].adminUrl);
    await page.getByRole('button', { name: 'Add gate' }).click();
    await expect(page.getByRole('heading', { name: `Enrol ${name}` })).toBeVisible();
    const command = await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue();
    expect(command).toContain(`--console ${c.baseUrl}`);
    await expect(rowOf(name)).toContainText('waiting for enrolment');
    enrol(gates[i], command);
    await serve(gates[i], upstream.url);
  }
  // The page shows all three in sync without a reload.
  for (const name of NAMES) await expect(rowOf(name)).toContainText('in sync', { timeout: 15_000 });
  await expect(page.getByRole('status', { name: 'Convergence' })).toContainText('3 of 3 enrolled gates run the latest version');
  for (const g of gates) {
    const r = await fetch(`${g.url}/anything`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('upstream ok\n');
  }

  // A policy in shadow mode: counted, nothing refused.
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.getByRole('textbox', { name: 'Policy name' }).fill('api per ip');
  await page.getByRole('textbox', { name: 'Path', exact: true }).fill('/');
  await page.getByRole('spinbutton', { name: 'Requests', exact: true }).fill('2');
  await page.getByRole('combobox', { name: 'Per', exact: true }).selectOption('minute');
  await page.getByRole('spinbutton', { name: 'Burst', exact: true }).fill('1');
  await page.getByRole('combobox', { name: 'Scope' }).selectOption('gate');
  await page.getByRole('button', { name: /Create policy/ }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved api per ip' })).toBeVisible();
  // Wait until the gates run the version holding the policy (the page shows them in sync).
  await open(page, `${c.baseUrl}/gates`);
  await expect(page.getByRole('table', { name: 'Bundle versions' }).getByRole('row').nth(1)).toContainText('policy "api per ip" added');
  for (const name of NAMES) await expect(rowOf(name)).toContainText('in sync', { timeout: 10_000 });
  await open(page, `${c.baseUrl}/rate-limits`);
  for (const g of gates) {
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${g.url}/api/items`);
      expect(r.status, 'shadow mode refuses nothing').toBe(200);
    }
  }

  // Enforce: measured from the click (the confirmation is accepted at once) to the first 429
  // at each gate, each polled every 10 ms meanwhile.
  const policyRow = page.getByRole('row').filter({ hasText: 'api per ip' });
  const clicked = Date.now();
  await policyRow.getByRole('button', { name: 'Switch to enforce' }).click();
  const firstRefusal = async (g: Gate): Promise<[number, Response | undefined]> => {
    while (Date.now() - clicked < 10_000) {
      const res = await fetch(`${g.url}/api/items`);
      if (res.status === 429) return [Date.now() - clicked, res];
      await new Promise((ok) => setTimeout(ok, 10));
    }
    return [Date.now() - clicked, undefined];
  };
  const results = await Promise.all(gates.map(firstRefusal));
  console.log(`"Switch to enforce" clicked → first 429 at each gate: ${results.map(([ms], i) => `${NAMES[i]} ${ms} ms`).join(', ')}`);
  for (const [i, [, res]] of results.entries()) expect(res, `${NAMES[i]} enforces the policy`).toBeDefined();
  const elapsed = Math.max(...results.map(([ms]) => ms));
  const refused = results[0][1];
  await expect(page.getByRole('row').filter({ hasText: 'api per ip' }).getByText('enforce', { exact: true })).toBeVisible();
  expect(elapsed).toBeLessThanOrEqual(1000);
  expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(refused!.headers.get('ratelimit-policy')).toMatch(/;q=2;w=60$/);
  expect(refused!.headers.get('ratelimit')).toMatch(/;r=0;t=\d+$/);

  // The Gates page: all in sync with the newest version, whose changes name the switch.
  await open(page, `${c.baseUrl}/gates`);
  for (const name of NAMES) await expect(rowOf(name)).toContainText('in sync');
  const versions = page.getByRole('table', { name: 'Bundle versions' });
  await expect(versions.getByRole('row').nth(1)).toContainText('mode "shadow" → "enforce"');
  await page.screenshot({ path: 'test-results/gates.png', fullPage: true });

  // Every step is in the audit log.
  await open(page, `${c.baseUrl}/audit`);
  for (const action of ['gates.add', 'gates.enrol', 'bundles.publish', 'gates.apply', 'policies.enforce']) {
    await expect(page.getByRole('row').filter({ hasText: action }).first()).toBeVisible();
  }
  expect(errors).toEqual([]);
});
