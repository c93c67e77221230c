// Issue #5 through the real UI: create a policy, see an inline validation error while typing,
// see the preview chart and the effective limit for 3 replicas, switch shadow to enforce.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

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
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.screenshot({ path: 'test-results/rate-limits.png', fullPage: true });
  expect(errors).toEqual([]);
});
