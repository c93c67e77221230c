// Issue #5 through the real UI: create a policy, see an inline validation error while typing,
// see the preview chart and the effective limit for 3 replicas, switch shadow to enforce.
import { test, expect } from '@playwright/test';
import * as net from 'node:net';
import { startConsole, setupOwner, open, freePort, Console } from './console';

// A syslog collector on loopback: the console forwards its audit log here (--audit-syslog).
let c: Console;
let collector: net.Server;
let received = '';
test.beforeAll(async () => {
  const port = await freePort();
  collector = net.createServer((socket) => socket.on('data', (d) => { received += d.toString('utf8'); }));
  await new Promise<void>((resolve) => collector.listen(port, '127.0.0.1', resolve));
  c = await startConsole(['--audit-syslog', `tcp://127.0.0.1:${port}`]);
});
test.afterAll(async () => { await c?.stop(); collector?.close(); });

test('policy: inline validation, preview, effective limit, shadow → enforce, audited', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/rate-limits`);

  await page.getByRole('textbox', { name: 'Policy name' }).fill('api per ip');
  // Inline validation from the policy crate, in the browser.
  await page.getByRole('textbox', { name: 'Path', exact: true }).fill('api/v1');
  await expect(page.locator('#p-path-issues')).toContainText('/');
  await expect(page.getByRole('button', { name: /Create policy/ })).toBeDisabled();
  await page.getByRole('textbox', { name: 'Path', exact: true }).fill('/api/v1');
  await expect(page.locator('#p-path-issues')).toHaveText('');
  await page.getByRole('textbox', { name: 'IP ranges (CIDR, empty = any)' }).fill('10.0.0.0/33');
  await expect(page.locator('#p-ip-issues')).not.toHaveText('');
  await page.getByRole('textbox', { name: 'IP ranges (CIDR, empty = any)' }).fill('');

  await page.getByRole('spinbutton', { name: 'Requests', exact: true }).fill('10');
  await page.getByRole('combobox', { name: 'Per', exact: true }).selectOption('second');
  await page.getByRole('spinbutton', { name: 'Burst', exact: true }).fill('5');
  await page.getByRole('combobox', { name: 'Scope' }).selectOption('gate');

  // Preview: 100 r/s offered against 10 r/s + 5 over 60 s → 605 admitted, the rest refused in shadow.
  await page.getByRole('spinbutton', { name: 'Offered requests per second' }).fill('100');
  const chart = page.getByRole('img', { name: /Preview chart/ });
  await expect(chart).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Over 60 s: 6000 offered' })).toContainText('enforcing would reject');

  // Effective limit for 3 gate-scoped replicas.
  await page.getByRole('spinbutton', { name: 'Gate replicas' }).fill('3');
  await expect(page.locator('p.effective')).toContainText('30 requests per second');

  await page.getByRole('button', { name: /Create policy/ }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved api per ip' })).toContainText('shadow mode');
  const row = page.getByRole('row').filter({ hasText: 'api per ip' });
  await expect(row.getByText('shadow', { exact: true })).toBeVisible();

  await row.getByRole('button', { name: 'Switch to enforce' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'api per ip' }).getByText('enforce', { exact: true })).toBeVisible();
  expect(dialogs.at(-1)).toContain('Enforce api per ip?');

  await open(page, `${c.baseUrl}/audit`);
  await expect(page.getByRole('row').filter({ hasText: 'policies.create' })).toHaveCount(1);
  await expect(page.getByRole('row').filter({ hasText: 'policies.enforce' })).toHaveCount(1);
  // The explorer: the form puts the filter in the URL; the one event opens to its change.
  await page.getByRole('textbox', { name: 'Action starts with' }).fill('policies.enforce');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/\/audit\?action=policies\.enforce$/);
  const events = page.getByRole('table', { name: '1 matching event' });
  await expect(events.getByRole('row')).toHaveCount(2);
  await events.getByText(/fields? changed/).click();
  const diff = events.getByRole('table', { name: 'Before and after' });
  const mode = diff.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'mode', exact: true }) });
  await expect(mode.getByRole('deletion')).toHaveText('shadow');
  await expect(mode.getByRole('insertion')).toHaveText('enforce');
  // Unchanged fields are listed too, without a deletion or insertion mark.
  const name = diff.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'name', exact: true }) });
  await expect(name).toContainText('api per ip');
  await expect(name.getByRole('insertion')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/audit-diff.png', fullPage: true });
  // Shared as a link, the same view renders on the server.
  await open(page, page.url());
  await expect(page.getByRole('table', { name: '1 matching event' })).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Action starts with' })).toHaveValue('policies.enforce');
  // The event's target links to the policy's own row on the Rate limits page.
  const shared = page.url();
  await page.getByRole('table', { name: '1 matching event' }).getByRole('link', { name: /^policy:/ }).click();
  await expect(page).toHaveURL(/\/rate-limits#policy-[0-9a-f-]+$/);
  const targeted = page.locator('tr:target');
  await expect(targeted).toHaveCount(1);
  await expect(targeted).toContainText('api per ip');
  await open(page, shared);
  // Forwarding: the card says the collector is up to date, and it has the event.
  const forwarding = page.getByRole('region', { name: 'Forwarding' });
  await expect(async () => {
    await forwarding.getByRole('button', { name: 'Refresh' }).click();
    await expect(forwarding.getByRole('row').filter({ hasText: 'tcp://127.0.0.1:' })).toContainText('Up to date', { timeout: 1000 });
  }).toPass({ timeout: 15000 });
  await expect(forwarding.getByRole('cell', { name: '0 events' })).toBeVisible();
  expect(received).toMatch(/<109>1 \S+ localhost palisade \d+ policies\.enforce \[audit@32473 seq="\d+" actor="alice"/);
  await forwarding.screenshot({ path: 'test-results/audit-forwarding.png' });
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.screenshot({ path: 'test-results/rate-limits.png', fullPage: true });
  expect(errors).toEqual([]);
});
