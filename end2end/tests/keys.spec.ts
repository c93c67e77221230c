// Issue #4 through the real UI: a key set rotated with the new key seen as `next` in its JWKS
// (and the downloaded JWKS), then an emergency revoke whose confirmation speaks of tokens in
// flight.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

test('keys: create a set, rotate, see the next key in the JWKS, revoke', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.accept(d.type() === 'prompt' ? 'key leaked in a CI log' : undefined);
  });
  await setupOwner(page, c);
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

  // Emergency revoke of the active key: the confirmation says what happens to tokens in flight;
  // the passkey (the virtual authenticator) confirms it.
  const activeRow = fresh.getByRole('row').filter({ has: page.getByText('active', { exact: true }) });
  await activeRow.getByRole('button', { name: /^Revoke / }).click();
  expect(dialogs.at(-1)).toContain('may still be in flight');
  await expect(page.getByRole('status').filter({ hasText: 'revoked and removed from the JWKS' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'access-tokens (ES256)' }).getByRole('row').filter({ has: page.getByText('revoked', { exact: true }) })).toHaveCount(1);
  const after = JSON.parse(await page.getByRole('region', { name: 'access-tokens (ES256)' }).getByLabel('JWKS of access-tokens').textContent() ?? '{}');
  expect(after.keys.map((k: { kid: string }) => k.kid)).toEqual([nextKid]);

  await open(page, `${c.baseUrl}/audit`);
  // The revoke asked for a passkey confirmation first (step-up), audited too.
  for (const action of ['keys.create_set', 'keys.create_next', 'admin.step_up', 'keys.revoke']) {
    await expect(page.getByRole('row').filter({ hasText: action })).toHaveCount(1);
  }
  await open(page, `${c.baseUrl}/keys`);
  await page.screenshot({ path: 'test-results/keys.png', fullPage: true });
  expect(errors).toEqual([]);
});
