// Issue #4 through the real UI: a native-app client with a redirect-URI linter error seen while
// typing, a service client whose secret is copied once and never shown again, then rotated with
// a grace period.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

test('clients: native linter, service secret shown once and copied', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: c.baseUrl });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/clients`);

  // Native app: the linter runs in the browser as you type.
  await page.getByRole('button', { name: 'New native app' }).click();
  await page.getByRole('textbox', { name: 'Client name' }).fill('Shop app');
  const redirects = page.getByRole('textbox', { name: /Redirect URIs/ });
  await redirects.fill('http://example.com/cb');
  const findings = page.getByRole('list', { name: 'Redirect URI findings' });
  await expect(findings.getByRole('alert')).toContainText('http://example.com/cb');
  await expect(page.getByRole('button', { name: 'Register client' })).toBeDisabled();
  await redirects.fill('com.example.shop:/oauth/cb');
  await expect(findings.getByRole('alert')).toHaveCount(0);
  await page.getByRole('textbox', { name: /Scopes/ }).fill('orders:read profile');
  await page.getByRole('button', { name: 'Register client' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved Shop app' })).toBeVisible();
  const shop = page.getByRole('row').filter({ hasText: 'Shop app' });
  await expect(shop).toContainText('none + PKCE');

  // A rate-limit policy to bind the service to (per-client limits).
  await open(page, `${c.baseUrl}/rate-limits`);
  await page.getByRole('textbox', { name: 'Policy name' }).fill('per client');
  await page.getByRole('combobox', { name: 'Count per' }).selectOption('client');
  await page.getByRole('button', { name: /Create policy/ }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved per client' })).toBeVisible();
  await open(page, `${c.baseUrl}/clients`);

  // Service: the secret is shown once, copied, then gone for good.
  await page.getByRole('button', { name: 'New service' }).click();
  await page.getByRole('textbox', { name: 'Client name' }).fill('Billing');
  await page.getByRole('combobox', { name: 'Bound rate-limit policy' }).selectOption({ label: 'per client' });
  await page.getByRole('button', { name: 'Register client' }).click();
  const panel = page.getByRole('region', { name: /New secret for Billing/ });
  await expect(panel).toBeVisible();
  const secret = await panel.getByRole('textbox', { name: 'Client secret (shown once)' }).inputValue();
  expect(secret).toMatch(/^psc_[A-Za-z0-9_-]{43}$/);
  await panel.getByRole('button', { name: 'Copy secret' }).click();
  await expect(panel.getByRole('status')).toContainText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await panel.getByRole('button', { name: /I have stored it/ }).click();
  await expect(panel).toHaveCount(0);
  const billing = page.getByRole('row').filter({ hasText: 'Billing' });
  await expect(billing).toContainText(secret.slice(0, 8));
  expect(await page.content()).not.toContain(secret);
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: 'Billing' })).toContainText('active');
  expect(await page.content()).not.toContain(secret);
  // No gate has reported use yet: the page says so, for the secret and the tokens.
  await expect(page.getByRole('row').filter({ hasText: 'Billing' })).toContainText('last used: not reported by any gate yet');
  await expect(page.getByLabel('Token usage of Billing')).toHaveText('tokens issued by gates: 0');

  // Rotate with the default 7-day grace: a new secret once, the old one in grace.
  await page.getByRole('row').filter({ hasText: 'Billing' }).getByRole('button', { name: 'Rotate secret of Billing' }).click();
  expect(dialogs.at(-1)).toContain('stays valid for 7 more days');
  const rotated = page.getByRole('region', { name: /New secret for Billing/ });
  const second = await rotated.getByRole('textbox', { name: 'Client secret (shown once)' }).inputValue();
  expect(second).not.toBe(secret);
  await rotated.getByRole('button', { name: /I have stored it/ }).click();
  await expect(page.getByRole('row').filter({ hasText: 'Billing' })).toContainText('grace');

  // The binding shows on both pages.
  await expect(page.getByRole('row').filter({ hasText: 'Billing' })).toContainText('per client');
  await open(page, `${c.baseUrl}/rate-limits`);
  await expect(page.getByRole('row').filter({ hasText: 'per client' })).toContainText('Billing');

  await open(page, `${c.baseUrl}/audit`);
  await expect(page.getByRole('row').filter({ hasText: 'clients.create' })).toHaveCount(2);
  await expect(page.getByRole('row').filter({ hasText: 'clients.rotate_secret' })).toHaveCount(1);
  expect(await page.content()).not.toContain(secret);
  await open(page, `${c.baseUrl}/clients`);
  await page.screenshot({ path: 'test-results/clients.png', fullPage: true });
  expect(errors).toEqual([]);
});
