// Issue #3's path through the real UI: create a CA, issue a certificate for api.example.com,
// export its pin set (with a real backup pin) for an Android and an iOS release, then see the
// planner keep both releases green for a rotation to the backup key, turn them red and block a
// rotation to a fresh key, rotate to the backup key, and find every step in the audit log.
import { readFileSync } from 'node:fs';
import { test, expect, Page } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

async function recordRelease(page: Page, platform: 'android' | 'ios', bundle: string, format: string) {
  const card = page.getByRole('region', { name: /api\.example\.com — version/ });
  await card.getByRole('textbox', { name: 'App name' }).fill('Example Bank');
  await card.getByRole('combobox', { name: 'Platform' }).selectOption(platform);
  await card.getByRole('textbox', { name: 'Bundle id or package name' }).fill(bundle);
  await card.getByRole('textbox', { name: 'App version' }).fill('1.0.0');
  await card.getByLabel('Release date').fill('2026-11-28');
  await card.getByRole('combobox', { name: 'File format' }).selectOption(format);
  await card.getByRole('button', { name: 'Export for release' }).click();
  await expect(card.getByRole('status').filter({ hasText: 'Recorded the release' })).toBeVisible();
}

test('certificate → pin set → Android and iOS releases → planner → rotation, all audited', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);

  await open(page, `${c.baseUrl}/certificates`);
  await page.getByRole('button', { name: 'Create root CA' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Created CN=Palisade Internal Root CA' })).toBeVisible();

  await page.getByRole('textbox', { name: 'Hostname', exact: true }).fill('api.example.com');
  await page.getByRole('spinbutton', { name: 'Validity (days)', exact: true }).fill('397');
  await expect(page.getByText('397 days is above 200')).toBeVisible();
  await page.getByRole('spinbutton', { name: 'Validity (days)', exact: true }).fill('90');
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Issued' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'api.example.com', level: 3 })).toBeVisible();

  // For a server not behind a gate: the chain (the page says the root is in it) and, after a
  // warning and the passkey, the private key, each saved under the hostname's name.
  const files = page.getByRole('group', { name: 'Files of api.example.com' });
  await expect(files.getByText('up to and including the root')).toBeVisible();
  const chainDownload = page.waitForEvent('download');
  await files.getByRole('link', { name: 'Download chain (PEM)' }).click();
  expect((await chainDownload).suggestedFilename()).toBe('api.example.com.chain.pem');
  const keyButton = files.getByRole('button', { name: 'Download private key…' });
  await expect(keyButton).toHaveAccessibleDescription(/This key lets anyone holding it impersonate api\.example\.com\. The download is recorded in the audit log\./);
  const keyDownload = page.waitForEvent('download');
  await keyButton.click();
  expect(dialogs.at(-1)).toContain('This key lets anyone holding it impersonate api.example.com.');
  expect(dialogs.at(-1)).toContain('Your passkey confirms it next.');
  const key = await keyDownload;
  expect(key.suggestedFilename()).toBe('api.example.com.key.pem');
  const keyPath = await key.path();
  expect(readFileSync(keyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  await expect(files.getByRole('status')).toContainText('is downloading as api.example.com.key.pem');
  await files.screenshot({ path: 'test-results/certificate-files.png' });

  await open(page, `${c.baseUrl}/pin-sets`);
  const card = page.getByRole('region', { name: 'api.example.com — version 1' });
  await expect(card.getByText('No findings')).toBeVisible();
  await expect(card.getByRole('row').filter({ hasText: 'no (backup)' })).toHaveCount(1);
  await card.getByRole('tab', { name: 'Android' }).click();
  await expect(card.getByRole('tabpanel')).toContainText('<pin digest="SHA-256">');
  await expect(card.getByRole('tabpanel')).toContainText('Android');
  await card.getByRole('tab', { name: 'iOS' }).click();
  await expect(card.getByRole('tabpanel')).toContainText('NSPinnedDomains');
  await expect(card.getByRole('tabpanel')).toContainText('SPKI-SHA256-BASE64');
  const download = page.waitForEvent('download');
  await card.getByRole('link', { name: /Download Info-NSPinnedDomains.plist/ }).click();
  expect((await download).suggestedFilename()).toBe('Info-NSPinnedDomains.plist');

  await recordRelease(page, 'android', 'com.example.bank', 'android');
  await recordRelease(page, 'ios', 'com.example.bank.ios', 'ios');
  const releases = page.getByRole('region', { name: 'App releases' });
  await expect(releases.getByRole('row').filter({ hasText: 'Example Bank' })).toHaveCount(2);

  await open(page, `${c.baseUrl}/certificates`);
  await page.getByRole('button', { name: 'Plan rotation to a fresh key' }).click();
  const fresh = page.getByRole('region', { name: 'Rotation plan for api.example.com' });
  await expect(fresh.getByRole('listitem').filter({ hasText: '✗ would break' })).toHaveCount(2);
  await expect(fresh.getByText('Blocked')).toBeVisible();
  await expect(fresh.getByRole('button', { name: 'Rotate now' })).toHaveCount(0);

  await page.getByRole('button', { name: 'Plan rotation of api.example.com to the next key' }).click();
  const next = page.getByRole('region', { name: 'Rotation plan for api.example.com' });
  await expect(next.getByRole('listitem').filter({ hasText: '✓ stays working' })).toHaveCount(2);
  await next.getByRole('button', { name: 'Rotate now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Rotated' })).toBeVisible();
  expect(dialogs.at(-1)).toContain('Rotate api.example.com to its pre-generated next key');

  await open(page, `${c.baseUrl}/pin-sets`);
  await expect(page.getByRole('region', { name: 'api.example.com — version 2' })).toBeVisible();

  await open(page, `${c.baseUrl}/`);
  await expect(page.getByRole('heading', { name: 'Expiry inventory' })).toBeVisible();
  await expect(page.getByRole('img', { name: /Expiry timeline of 3 items/ })).toBeVisible();
  await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });

  await open(page, `${c.baseUrl}/audit`);
  const rows = page.getByRole('row');
  for (const action of ['certs.create_ca', 'certs.issue', 'certs.download_key', 'pinsets.export_for_release', 'certs.rotate']) {
    await expect(rows.filter({ hasText: action }).filter({ hasText: 'success' }).first()).toBeVisible();
  }
  await expect(rows.filter({ hasText: 'pinsets.export_for_release' })).toHaveCount(2);
  await page.screenshot({ path: 'test-results/pinning-audit.png', fullPage: true });
  expect(errors).toEqual([]);
});
