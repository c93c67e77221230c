// Issue #4's "Done when", in real time (about 7 minutes, so opt-in: PALISADE_SLOW=1): a key set
// with the shortest timings (cache window 5 min, tokens 1 min, no leeway) goes through a full
// rotation from one press of "Rotate now" — next published, promoted by the rotation job when its
// cache window ends, the old key retired and then removed — with the JWKS checked at every
// observation and every step in the audit log.
import { test, expect, Page } from '@playwright/test';
import { startConsole, setupOwner, open, Console } from './console';

test.skip(!process.env.PALISADE_SLOW, 'real-time rotation: set PALISADE_SLOW=1 (about 7 minutes)');
test.setTimeout(12 * 60_000);

let c: Console;
test.beforeAll(async () => { c = await startConsole(['--rotation-tick-secs', '2']); });
test.afterAll(async () => { await c?.stop(); });

interface Key { kid: string; state: string }

/** The keys table and the JWKS as the page shows them; the JWKS must hold exactly the published keys. */
async function observe(page: Page): Promise<Key[]> {
  await open(page, `${c.baseUrl}/keys`);
  const card = page.getByRole('region', { name: 'short (EdDSA)' });
  const rows = await card.getByRole('row').all();
  const keys: Key[] = [];
  for (const row of rows.slice(1)) {
    const kid = await row.locator('code').getAttribute('title');
    const state = (await row.locator('.badge').textContent()) ?? '';
    if (kid) keys.push({ kid, state });
  }
  const jwks = JSON.parse((await card.getByLabel('JWKS of short').textContent()) ?? '{}');
  const published = keys.filter((k) => ['next', 'active', 'retired'].includes(k.state)).map((k) => k.kid).sort();
  expect(jwks.keys.map((k: { kid: string }) => k.kid).sort()).toEqual(published);
  expect(keys.filter((k) => k.state === 'active')).toHaveLength(1);
  const res = await page.request.get(`${c.baseUrl}/download/jwks/short`);
  expect(await res.json()).toEqual(jwks);
  return keys;
}

test('a full rotation in real time, JWKS correct at every moment', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.accept(); });
  await setupOwner(page, c);
  await open(page, `${c.baseUrl}/keys`);
  await page.getByRole('textbox', { name: 'Key set name' }).fill('short');
  await page.getByRole('combobox', { name: 'Algorithm' }).selectOption('EdDSA');
  await page.getByRole('spinbutton', { name: 'Rotation period (days)' }).fill('1');
  await page.getByRole('spinbutton', { name: 'JWKS cache window (minutes)' }).fill('5');
  await page.getByRole('spinbutton', { name: 'Longest token lifetime (minutes)' }).fill('1');
  await page.getByRole('spinbutton', { name: 'Clock leeway (seconds)' }).fill('0');
  await page.getByRole('button', { name: 'Create key set' }).click();
  await expect(page.getByRole('region', { name: 'short (EdDSA)' })).toBeVisible();
  const [first] = await observe(page);
  expect(first.state).toBe('active');

  // Rotate now: a next key is published; it takes over by itself when its cache window ends, and
  // pressing again meanwhile is refused with that instant.
  await page.getByRole('region', { name: 'short (EdDSA)' }).getByRole('button', { name: 'Rotate short now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'published as next' })).toBeVisible();
  let keys = await observe(page);
  const next = keys.find((k) => k.state === 'next')!;
  expect(next).toBeTruthy();
  await page.getByRole('region', { name: 'short (EdDSA)' }).getByRole('button', { name: 'Rotate short now' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'takes over automatically' })).toBeVisible();

  // When the cache window ends the rotation job promotes it; the old key is retired but still
  // published. Never before the window.
  const published = Date.now();
  while (Date.now() - published < 7 * 60_000) {
    keys = await observe(page);
    if (keys.find((k) => k.kid === next.kid)?.state === 'active') break;
    await page.waitForTimeout(15_000);
  }
  expect(Date.now() - published).toBeGreaterThanOrEqual(4.5 * 60_000);
  expect(keys.find((k) => k.kid === next.kid)?.state).toBe('active');
  expect(keys.find((k) => k.kid === first.kid)?.state).toBe('retired');

  // Tokens live 1 min (no leeway): the job removes the retired key about a minute later.
  const retiredAt = Date.now();
  while (Date.now() - retiredAt < 3 * 60_000) {
    keys = await observe(page);
    if (keys.find((k) => k.kid === first.kid)?.state === 'removed') break;
    expect(Date.now() - retiredAt).toBeLessThan(2.5 * 60_000);
    await page.waitForTimeout(10_000);
  }
  expect(keys.find((k) => k.kid === first.kid)?.state).toBe('removed');
  expect(Date.now() - retiredAt).toBeGreaterThanOrEqual(55_000);

  await open(page, `${c.baseUrl}/audit`);
  for (const action of ['keys.create_set', 'keys.create_next', 'keys.promote', 'keys.remove']) {
    await expect(page.getByRole('row').filter({ hasText: action }).first()).toBeVisible();
  }
  await open(page, `${c.baseUrl}/keys`);
  await page.screenshot({ path: 'test-results/full-rotation.png', fullPage: true });
});
