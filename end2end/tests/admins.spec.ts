// Issue #11 through the real UI, each admin in their own browser context with their own
// virtual authenticator: the owner invites an auditor and an operator; the auditor sees every
// page but no change button and is refused (403) when calling a change directly; the operator
// rotates a key but cannot revoke it; the owner revokes after a fresh passkey prompt; disabling
// the operator ends their open session within a second. Every step is in the audit log.
import { test, expect, Browser, Page } from '@playwright/test';
import { startConsole, setupOwner, open, addPasskeyAuthenticator, Console } from './console';

let c: Console;
test.beforeAll(async () => { c = await startConsole(); });
test.afterAll(async () => { await c?.stop(); });

/** Accepts every confirm() and answers prompts with `answer`. */
function acceptDialogs(page: Page, answer = 'a reason long enough for the audit log') {
  const seen: string[] = [];
  page.on('dialog', async (d) => {
    seen.push(d.message());
    await d.accept(d.type() === 'prompt' ? answer : undefined);
  });
  return seen;
}

/** The owner creates an invite for `role` on the Admins page; returns the link shown once. */
async function invite(owner: Page, role: string, note: string): Promise<string> {
  await open(owner, `${c.baseUrl}/admins`);
  await owner.getByRole('combobox', { name: 'Role' }).selectOption(role);
  await owner.getByRole('textbox', { name: 'For (note, optional)' }).fill(note);
  await owner.getByRole('button', { name: 'Create invite' }).click();
  const link = owner.getByRole('textbox', { name: 'Invite link' });
  await expect(link).toBeVisible();
  const url = await link.inputValue();
  expect(url).toContain('/invite#');
  return url;
}

/** A new browser context joins through `url` with its own authenticator. */
async function join(browser: Browser, url: string, username: string, name: string): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await addPasskeyAuthenticator(page);
  await page.goto(url);
  await expect(page.getByText(/Invited by alice as/)).toBeVisible();
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Join with a passkey' }).click();
  await page.waitForURL(`${c.baseUrl}/`);
  return page;
}

/** Calls a server fn from the page's own origin, as a hand-made request would. */
async function callFn(page: Page, name: string, body: Record<string, string>) {
  return page.evaluate(async ([n, b]) => {
    const r = await fetch(`/fn/${n}`, { method: 'POST', body: new URLSearchParams(b as Record<string, string>) });
    return { status: r.status, text: await r.text() };
  }, [name, body] as const);
}

test('admins: invites, roles enforced in pages and server, step-up, disabling ends the session', async ({ page: owner, browser }) => {
  const errors: string[] = [];
  owner.on('pageerror', (e) => errors.push(e.message));
  acceptDialogs(owner);
  await setupOwner(owner, c);

  // A key set to work with.
  await open(owner, `${c.baseUrl}/keys`);
  await owner.getByRole('textbox', { name: 'Key set name' }).fill('access-tokens');
  await owner.getByRole('button', { name: 'Create key set' }).click();
  await expect(owner.getByRole('region', { name: 'access-tokens (EdDSA)' })).toBeVisible();

  const auditorUrl = await invite(owner, 'auditor', 'Audrey, internal audit');
  const operatorUrl = await invite(owner, 'operator', 'Oscar, on call');
  const auditor = await join(browser, auditorUrl, 'audrey', 'Audrey Auditor');
  const operator = await join(browser, operatorUrl, 'oscar', 'Oscar Operator');
  for (const p of [auditor, operator]) p.on('pageerror', (e) => errors.push(e.message));
  acceptDialogs(operator);

  // The auditor reads every page, sees no change button, and the server refuses a direct call.
  for (const [path, heading, hidden] of [
    ['/keys', 'Signing keys', 'Create key set'],
    ['/clients', 'Clients', 'New native app'],
    ['/certificates', 'Certificates', 'Issue certificate'],
    ['/rate-limits', 'Rate limits', 'Create policy (starts in shadow mode)'],
    ['/gates', 'Gates', 'Add gate'],
    ['/admins', 'Admins', 'Create invite'],
    ['/audit', 'Audit log', ''],
    ['/pin-sets', 'Pin sets', ''],
  ]) {
    await open(auditor, `${c.baseUrl}${path}`);
    await expect(auditor.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    if (hidden) await expect(auditor.getByRole('button', { name: hidden })).toHaveCount(0);
  }
  await open(auditor, `${c.baseUrl}/keys`);
  await expect(auditor.getByRole('button', { name: /^Rotate access-tokens/ })).toHaveCount(0);
  await expect(auditor.getByRole('button', { name: /^Revoke / })).toHaveCount(0);
  const refused = await callFn(auditor, 'create_key_set', {
    name: 'sneaky', alg: 'EdDSA', rotation_days: '90', cache_window_min: '60',
    max_token_lifetime_min: '60', leeway_s: '60', auto_rotate: 'true',
  });
  expect(refused.status).toBe(403);
  expect(refused.text).toContain('keys:write');
  await expect(auditor.getByRole('cell', { name: 'keys:write' })).toHaveCount(0);
  await open(auditor, `${c.baseUrl}/admins`);
  await expect(auditor.getByRole('table', { name: 'Permissions by role' })).toBeVisible();

  // The operator rotates but has no revoke button, and the server refuses the revoke.
  await open(operator, `${c.baseUrl}/keys`);
  const card = operator.getByRole('region', { name: 'access-tokens (EdDSA)' });
  await card.getByRole('button', { name: 'Rotate access-tokens now' }).click();
  await expect(operator.getByRole('status').filter({ hasText: 'published as next' })).toBeVisible();
  await expect(operator.getByRole('button', { name: /^Revoke / })).toHaveCount(0);
  const revokeByOperator = await callFn(operator, 'revoke_signing_key', { id: 'x', version: '1', key_id: 'x', reason: 'no' });
  expect(revokeByOperator.status).toBe(403);
  expect(revokeByOperator.text).toContain('keys:revoke');

  // The owner revokes the active key: a fresh passkey prompt (step-up) comes first.
  await open(owner, `${c.baseUrl}/keys`);
  const ownerCard = owner.getByRole('region', { name: 'access-tokens (EdDSA)' });
  const activeRow = ownerCard.getByRole('row').filter({ has: owner.getByText('active', { exact: true }) });
  await activeRow.getByRole('button', { name: /^Revoke / }).click();
  await expect(owner.getByRole('status').filter({ hasText: 'revoked and removed from the JWKS' })).toBeVisible();

  // Disabling the operator ends their open session within a second.
  await open(operator, `${c.baseUrl}/keys`);
  await open(owner, `${c.baseUrl}/admins`);
  const started = Date.now();
  await owner.getByRole('button', { name: 'Disable oscar' }).click();
  await expect(owner.getByRole('status').filter({ hasText: 'sessions have ended' })).toBeVisible();
  let refusedAt = 0;
  for (let i = 0; i < 50; i++) {
    const r = await callFn(operator, 'list_key_sets', {});
    if (r.status === 401) { refusedAt = Date.now(); break; }
    await operator.waitForTimeout(20);
  }
  expect(refusedAt).toBeGreaterThan(0);
  console.log(`operator's session refused ${refusedAt - started} ms after the owner pressed Disable`);
  expect(refusedAt - started).toBeLessThan(3_000);
  await operator.goto(`${c.baseUrl}/keys`);
  await expect(operator).toHaveURL(`${c.baseUrl}/login`);

  // Every step is in the audit log.
  await open(owner, `${c.baseUrl}/audit`);
  for (const action of ['admins.invite', 'admins.accept_invite', 'keys.create_next', 'keys.revoke', 'admin.step_up', 'admins.disable']) {
    await expect(owner.getByRole('row').filter({ hasText: action }).first()).toBeVisible();
  }
  await expect(owner.getByRole('row').filter({ hasText: 'keys.create_set' }).filter({ hasText: 'denied' })).toHaveCount(1);
  await expect(owner.getByRole('row').filter({ hasText: 'keys.revoke' }).filter({ hasText: 'denied' })).toHaveCount(1);
  await open(owner, `${c.baseUrl}/admins`);
  await owner.screenshot({ path: 'test-results/admins.png', fullPage: true });
  await open(auditor, `${c.baseUrl}/keys`);
  await auditor.screenshot({ path: 'test-results/keys-as-auditor.png', fullPage: true });
  expect(errors).toEqual([]);
});
