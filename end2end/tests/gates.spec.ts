// Issue #10, the loop in real processes: the console (real binary), a gate enrolled with the
// command the Gates page shows, an upstream. A policy switched to enforce in the browser is
// enforced by the gate within a second (measured and printed); the 429 carries Retry-After and
// the IETF RateLimit headers; the Gates page shows the gate converge without a reload; every
// step is in the audit log.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';
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

test('gate: enrol from the Gates page, enforce a policy within 1 s, 429 with headers, audited', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', async (d) => { await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/gates`);

  // Add the gate: the command is shown once.
  await page.getByRole('textbox', { name: 'Gate name' }).fill('edge-1');
  await page.getByRole('textbox', { name: 'Labels (optional)' }).fill('region=eu');
  await page.getByRole('textbox', { name: /Push URL/ }).fill(gate.adminUrl);
  await page.getByRole('button', { name: 'Add gate' }).click();
  const command = await page.getByRole('textbox', { name: 'Enrolment command (shown once)' }).inputValue();
  expect(command).toContain(`--console ${c.baseUrl}`);
  const row = page.getByRole('table', { name: 'Gates' }).getByRole('row').filter({ hasText: 'edge-1', hasNotText: 'refused a bundle' });
  await expect(row).toContainText('waiting for enrolment');

  // Enrol with exactly that command, then serve: the page shows it in sync without a reload.
  enrol(gate, command);
  await serve(gate, upstream.url);
  await expect(row).toContainText('in sync', { timeout: 15_000 });
  await expect(page.getByRole('status', { name: 'Convergence' })).toContainText('1 of 1 enrolled gate runs the latest version');
  let r = await fetch(`${gate.url}/anything`);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('upstream ok\n');

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
  // Wait until the gate runs the version holding the policy (the page shows it in sync again).
  await open(page, `${c.baseUrl}/gates`);
  await expect(page.getByRole('table', { name: 'Bundle versions' }).getByRole('row').nth(1)).toContainText('policy "api per ip" added');
  await expect(row).toContainText('in sync', { timeout: 10_000 });
  await open(page, `${c.baseUrl}/rate-limits`);
  for (let i = 0; i < 6; i++) {
    r = await fetch(`${gate.url}/api/items`);
    expect(r.status, 'shadow mode refuses nothing').toBe(200);
  }

  // Enforce: measured from the click (the confirmation is accepted at once) to the first 429
  // at the gate, requests sent every 10 ms meanwhile.
  const policyRow = page.getByRole('row').filter({ hasText: 'api per ip' });
  const clicked = Date.now();
  await policyRow.getByRole('button', { name: 'Switch to enforce' }).click();
  let refused: Response | undefined;
  while (Date.now() - clicked < 10_000) {
    const res = await fetch(`${gate.url}/api/items`);
    if (res.status === 429) { refused = res; break; }
    await new Promise((ok) => setTimeout(ok, 10));
  }
  const elapsed = Date.now() - clicked;
  console.log(`"Switch to enforce" clicked → first 429 at the gate: ${elapsed} ms`);
  await expect(page.getByRole('row').filter({ hasText: 'api per ip' }).getByText('enforce', { exact: true })).toBeVisible();
  expect(refused, 'the gate enforces the policy').toBeDefined();
  expect(elapsed).toBeLessThanOrEqual(1000);
  expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(refused!.headers.get('ratelimit-policy')).toMatch(/;q=2;w=60$/);
  expect(refused!.headers.get('ratelimit')).toMatch(/;r=0;t=\d+$/);

  // The Gates page: in sync with the newest version, whose changes name the switch.
  await open(page, `${c.baseUrl}/gates`);
  await expect(row).toContainText('in sync');
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
