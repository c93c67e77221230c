// Issue #4 through the real UI: a native-app client with a redirect-URI linter error seen while
// typing, a service client whose secret is copied once and never shown again, a key set rotated
// with the new key seen as `next` in its JWKS, then an emergency revoke.
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

  // Service: the secret is shown once, copied, then gone for good.
  await page.getByRole('button', { name: 'New service' }).click();
  await page.getByRole('textbox', { name: 'Client name' }).fill('Billing');
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

  // Rotate with the default 7-day grace: a new secret once, the old one in grace.
  await page.getByRole('row').filter({ hasText: 'Billing' }).getByRole('button', { name: 'Rotate secret of Billing' }).click();
  expect(dialogs.at(-1)).toContain('stays valid for 7 more days');
  const rotated = page.getByRole('region', { name: /New secret for Billing/ });
  const second = await rotated.getByRole('textbox', { name: 'Client secret (shown once)' }).inputValue();
  expect(second).not.toBe(secret);
  await rotated.getByRole('button', { name: /I have stored it/ }).click();
  await expect(page.getByRole('row').filter({ hasText: 'Billing' })).toContainText('grace');

  await open(page, `${c.baseUrl}/audit`);
  await expect(page.getByRole('row').filter({ hasText: 'clients.create' })).toHaveCount(2);
  await expect(page.getByRole('row').filter({ hasText: 'clients.rotate_secret' })).toHaveCount(1);
  expect(await page.content()).not.toContain(secret);
  await open(page, `${c.baseUrl}/clients`);
  await page.screenshot({ path: 'test-results/clients.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('keys: create a set, rotate, see the next key in the JWKS, revoke', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.accept(d.type() === 'prompt' ? 'key leaked in a CI log' : undefined);
  });
  await setupOwner(page, c, 'bob', 'Bob Example').catch(async () => {
    // The console already has its owner from the first test: sign in as that owner instead.
    await open(page, `${c.baseUrl}/login`);
  });
  await open(page, `${c.baseUrl}/keys`);
  await page.getByRole('textbox', { name: 'Key set name' }).fill('access-tokens');
  await page.getByRole('combobox', { name: 'Algorithm' }).selectOption('ES256');
  await page.getByRole('button', { name: 'Create key set' }).click();
  const card = page.getByRole('region', { name: 'access-tokens (ES256)' });
  await expect(card).toBeVisible();
  await expect(card.getByRole('img', { name: /Key timeline of access-tokens/ })).toBeVisible();
  const jwksBefore = JSON.parse(await card.getByLabel('JWKS of access-tokens').textContent() ?? '{}');
  expect(jwksBefore.keys).toHaveLength(1);

  await card.getByRole('button', { name: 'Rotate access-tokens now' }).click();
  expect(dialogs.at(-1)).toContain('publish a new next key');
  await expect(page.getByRole('status').filter({ hasText: 'published as next' })).toBeVisible();
  const fresh = page.getByRole('region', { name: 'access-tokens (ES256)' });
  await expect(fresh.getByRole('row').filter({ hasText: 'next' })).toHaveCount(1);
  const jwks = JSON.parse(await fresh.getByLabel('JWKS of access-tokens').textContent() ?? '{}');
  expect(jwks.keys).toHaveLength(2);
  const nextRow = fresh.getByRole('row').filter({ has: page.getByText('next', { exact: true }) });
  const nextKid = await nextRow.locator('code').getAttribute('title');
  expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(nextKid);

  // The download is the same JWKS, as application/jwk-set+json.
  const res = await page.request.get(`${c.baseUrl}/download/jwks/access-tokens`);
  expect(res.headers()['content-type']).toBe('application/jwk-set+json');
  expect(await res.json()).toEqual(jwks);

  // Emergency revoke of the active key: the confirmation says what happens to tokens in flight.
  const activeRow = fresh.getByRole('row').filter({ has: page.getByText('active', { exact: true }) });
  await activeRow.getByRole('button', { name: /^Revoke / }).click();
  expect(dialogs.at(-1)).toContain('may still be in flight');
  await expect(page.getByRole('status').filter({ hasText: 'revoked and removed from the JWKS' })).toBeVisible();
  const after = JSON.parse(await page.getByRole('region', { name: 'access-tokens (ES256)' }).getByLabel('JWKS of access-tokens').textContent() ?? '{}');
  expect(after.keys.map((k: { kid: string }) => k.kid)).toEqual([nextKid]);

  await open(page, `${c.baseUrl}/audit`);
  for (const action of ['keys.create_set', 'keys.create_next', 'keys.revoke']) {
    await expect(page.getByRole('row').filter({ hasText: action })).toHaveCount(1);
  }
  await open(page, `${c.baseUrl}/keys`);
  await page.screenshot({ path: 'test-results/keys.png', fullPage: true });
  expect(errors).toEqual([]);
});
