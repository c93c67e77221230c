// Issue 15 (API tokens, REST API, release pipeline) through the real UI and the real binary:
// an admin creates a `pinsets:read releases:write` token on the API tokens page (passkey
// confirmation, shown once); a CI job runs `palisade release export` with it; the release shows
// on the Pin sets page and in the rotation planner, the call is in the audit log under the
// token; revoking it makes the next call fail.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { startConsole, setupOwner, open, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

/** `palisade release export` as a CI job runs it: its exit code and output. */
function releaseExport(token: string, out: string): { code: number; output: string } {
  try {
    const output = execFileSync(process.env.PALISADE_BIN!, [
      'release', 'export', '--console', c.baseUrl, '--hostname', 'api.example.com', '--format', 'ios',
      '--app', 'com.example.bank', '--app-name', 'Example Bank', '--version', '5.1.0', '--out', out,
    ], { env: { ...process.env, PALISADE_API_TOKEN: token, PALISADE_LOG: 'error' }, encoding: 'utf8' });
    return { code: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, output: `${err.stdout}${err.stderr}` };
  }
}

test('a CI token records the iOS release; it shows on Pin sets, in the planner and the audit log; revoked, it stops', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);

  // A certificate, hence a pin set, for api.example.com.
  await open(page, `${c.baseUrl}/certificates`);
  await page.getByRole('button', { name: 'Create root CA' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Created CN=Palisade Internal Root CA' })).toBeVisible();
  await page.getByRole('textbox', { name: 'Hostname', exact: true }).fill('api.example.com');
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Issued' })).toBeVisible();

  // The token, created on its page.
  await open(page, `${c.baseUrl}/api-tokens`);
  await page.getByRole('textbox', { name: 'Name' }).fill('iOS release pipeline');
  await page.getByRole('checkbox', { name: /pinsets:read/ }).check();
  await page.getByRole('checkbox', { name: /releases:write/ }).check();
  await page.getByRole('combobox', { name: 'Expires after' }).selectOption('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByRole('region', { name: 'Token created' });
  await expect(shown).toContainText('shown only this once');
  const token = await shown.getByRole('textbox', { name: 'Token (shown once)' }).inputValue();
  expect(token).toMatch(/^pat_[A-Za-z0-9_-]{43}$/);
  const table = page.getByRole('table', { name: 'API tokens' });
  const row = table.getByRole('row').filter({ hasText: 'iOS release pipeline' });
  await expect(row).toContainText('pinsets:read releases:write');
  await expect(row).toContainText('never');
  await page.screenshot({ path: 'test-results/api-tokens.png', fullPage: true });

  // The CI job.
  const out = join(mkdtempSync(join(tmpdir(), 'palisade-ci-')), 'Info-NSPinnedDomains.plist');
  const run = releaseExport(token, out);
  expect(run.code, run.output).toBe(0);
  expect(run.output).toContain('recorded com.example.bank 5.1.0 (ios)');
  expect(readFileSync(out, 'utf8')).toContain('NSPinnedDomains');

  // The release on the Pin sets page, and the planner counts it.
  await open(page, `${c.baseUrl}/pin-sets`);
  const releases = page.getByRole('region', { name: 'App releases' });
  await expect(releases.getByRole('row').filter({ hasText: 'Example Bank' }).filter({ hasText: '5.1.0' })).toHaveCount(1);
  await open(page, `${c.baseUrl}/certificates`);
  await page.getByRole('button', { name: 'Plan rotation to a fresh key' }).click();
  const plan = page.getByRole('region', { name: 'Rotation plan for api.example.com' });
  await expect(plan.getByRole('listitem').filter({ hasText: '5.1.0' })).toHaveCount(1);

  // The token's last use, and its call in the audit log under the token.
  await open(page, `${c.baseUrl}/api-tokens`);
  await expect(page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'iOS release pipeline' })).toContainText('from 127.0.0.1');
  await open(page, `${c.baseUrl}/audit`);
  await expect(page.getByRole('row').filter({ hasText: 'pinsets.export_for_release' }).filter({ hasText: 'token:' })).toHaveCount(1);
  await expect(page.getByRole('row').filter({ hasText: 'api_tokens.create' })).toHaveCount(1);
  // The admin narrows the log to the token's calls (its actor link), opens the release event
  // and downloads the filtered rows as CSV: the same events as the table.
  await page.getByRole('row').filter({ hasText: 'pinsets.export_for_release' }).getByRole('link', { name: /^token:/ }).click();
  await expect(page).toHaveURL(/\/audit\?actor=token%3A/);
  await expect(page.getByRole('textbox', { name: 'Actor' })).toHaveValue(/^token:/);
  const events = page.getByRole('table', { name: /matching events?/ });
  const rows = events.locator(':scope > tbody > tr');
  await expect(rows.filter({ hasText: 'pinsets.export_for_release' })).toHaveCount(1);
  const count = await rows.count();
  expect(count).toBeGreaterThan(0);
  for (let i = 0; i < count; i++) await expect(rows.nth(i).locator('td').nth(2)).toHaveText(/^token:/);
  const release = rows.filter({ hasText: 'pinsets.export_for_release' });
  await release.getByText('Details').click();
  await expect(release.getByRole('definition').filter({ hasText: '5.1.0' })).toHaveCount(1);
  const seqs = await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')!.textContent!.trim()));
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  const csv = readFileSync((await download.path())!, 'utf8').split('\r\n').filter((l) => l !== '');
  expect(csv[0]).toBe('seq,at,actor,ip,user_agent,action,target,outcome,details');
  expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(seqs);
  expect(csv.slice(1).every((l) => l.split(',')[2].startsWith('token:'))).toBe(true);

  // Revoked: the next run fails and says why.
  await open(page, `${c.baseUrl}/api-tokens`);
  await page.getByRole('button', { name: 'Revoke iOS release pipeline' }).click();
  expect(dialogs.at(-1)).toContain('Every call with it is refused from now on');
  await expect(page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'iOS release pipeline' })).toContainText('revoked');
  const again = releaseExport(token, out + '.2');
  expect(again.code).not.toBe(0);
  expect(again.output).toContain('401');
  expect(errors).toEqual([]);
});
