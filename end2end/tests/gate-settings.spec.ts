// The Gate settings card on the Gates page: the defaults, routes checked line by line as they
// are typed (a bad line names itself and disables Save), a save, and what is typed surviving the
// fleet's refresh every second; the key set that signs the tokens gates issue.
import { test, expect } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => {
  c = await startConsole();
});
test.afterAll(async () => {
  await c?.stop();
});

test('gate settings: routes checked as typed, saved, not reset by the refresh', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await setupOwner(page, c);
  // A key set the gates' tokens can be signed with.
  await open(page, `${c.baseUrl}/keys`);
  await page.getByRole('textbox', { name: 'Key set name' }).fill('gate-tokens');
  await page.getByRole('button', { name: 'Create key set' }).click();
  await expect(page.getByRole('region', { name: /^gate-tokens \(/ })).toBeVisible();
  await open(page, `${c.baseUrl}/gates`);

  const card = page.getByRole('region', { name: 'Gate settings' });
  const issuer = card.getByRole('textbox', { name: 'Issuer (exact iss accepted)' });
  const audiences = card.getByRole('textbox', { name: 'Audiences (aud; comma-separated)' });
  const typ = card.getByRole('checkbox', { name: 'Require typ at+jwt (RFC 9068)' });
  const routes = card.getByRole('textbox', { name: /^Routes \(one per line/ });
  const save = card.getByRole('button', { name: 'Save gate settings' });
  const tokenKeySet = card.getByRole('combobox', { name: 'Token endpoint: signs with key set' });

  // The defaults: the console as issuer, no audience, everything through without a token.
  await expect(issuer).toHaveValue(c.baseUrl);
  await expect(audiences).toHaveValue('');
  await expect(typ).toBeChecked();
  await expect(routes).toHaveValue('prefix / * none');
  await expect(tokenKeySet).toHaveValue('');
  await expect(tokenKeySet.getByRole('option')).toHaveText(['none (gates issue no tokens)', 'gate-tokens']);

  // A bearer route without an audience, then a bad line: each named, Save disabled.
  await routes.fill('prefix /public GET none\nprefix /api * bearer read:items');
  await expect(card.getByRole('alert').filter({ hasText: 'line 2 requires a bearer token: give at least one audience' })).toBeVisible();
  await expect(save).toBeDisabled();
  await audiences.fill('orders-api');
  await routes.fill('prefix /public GET none\nprefix api * bearer read:items\nexact /health * none');
  await expect(card.getByRole('alert').filter({ hasText: 'Line 2: The path must start with “/”' })).toBeVisible();
  await expect(save).toBeDisabled();

  // A later route an earlier one covers is a warning: allowed, but said.
  await routes.fill('# public first\nprefix /public GET none\nprefix /api * bearer read:items\nexact /health * none\nprefix /api/v1 GET none');
  await expect(card.getByRole('alert')).toHaveCount(0);
  await expect(card.getByRole('status').filter({ hasText: 'Line 5: Never used: line 3' })).toBeVisible();
  await expect(save).toBeEnabled();

  // What is typed survives the fleet's refresh (every second).
  await page.waitForTimeout(2500);
  await expect(routes).toHaveValue(/prefix \/api\/v1 GET none$/);
  await expect(audiences).toHaveValue('orders-api');

  // Saved from the keyboard: the status line, and the form reloads with the stored form of it.
  await routes.fill('# public first\nprefix /public GET none\nprefix /api * bearer read:items\nexact /health none');
  await tokenKeySet.selectOption('gate-tokens');
  await save.focus();
  await page.keyboard.press('Enter');
  await expect(card.getByRole('status').filter({ hasText: 'Gate settings saved: gates receive them in the next bundle version.' })).toBeVisible();
  await expect(routes).toHaveValue('prefix /public GET none\nprefix /api * bearer read:items\nexact /health * none');
  await expect(audiences).toHaveValue('orders-api');

  // Saved settings are what the page shows after a reload.
  await open(page, `${c.baseUrl}/gates`);
  await expect(routes).toHaveValue('prefix /public GET none\nprefix /api * bearer read:items\nexact /health * none');
  await expect(audiences).toHaveValue('orders-api');
  await expect(tokenKeySet).toHaveValue('gate-tokens');
  await expect(page.getByLabel('Token endpoint', { exact: true })).toContainText('signed by the active key of key set "gate-tokens"');
  expect(errors).toEqual([]);
});
