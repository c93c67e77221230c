// Helpers: start a real `palisade` console on a free port with a fresh data dir, and give a page
// a CDP virtual WebAuthn authenticator (a platform passkey with user verification).
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, type Page } from '@playwright/test';

export interface Console {
  baseUrl: string;
  setupUrl: string;
  proc: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** How long a console may take to print its setup link and answer `/readyz`: well above a
 * debug build's start on a busy machine, well below Playwright's 60 s hook timeout, so a console
 * that never comes up fails with our message (and its stderr) rather than a bare timeout. */
const READY_TIMEOUT_MS = Number(process.env.PALISADE_E2E_READY_MS || 30_000);
/** How much of the console's stderr a failure shows. */
const STDERR_TAIL_LINES = 40;

export interface StartOptions {
  /** The binary to run (default: `PALISADE_BIN`, else `target/debug/palisade`). */
  bin?: string;
  /** Overrides `READY_TIMEOUT_MS`. */
  readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  const kept = all.slice(-lines).join('\n');
  if (!kept) return '(nothing on stderr)';
  return all.length > lines ? `[... ${all.length - lines} earlier lines]\n${kept}` : kept;
}

/** Stops `proc` (SIGTERM, then SIGKILL after `graceMs`); returns at once if it never started or
 * already exited. */
export async function terminate(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a console on a free port with a fresh data dir and waits until it is ready: it printed
 * its `Setup URL:` line and `/readyz` answers 200. Throws, with the reason and the tail of the
 * console's stderr, if it exits or is not ready within `READY_TIMEOUT_MS`; the process, its data
 * dir and its database are cleaned up either way.
 */
export async function startConsole(extraArgs: string[] = [], opts: StartOptions = {}): Promise<Console> {
  const bin = opts.bin || process.env.PALISADE_BIN || resolve(__dirname, '../../target/debug/palisade');
  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const dataDir = mkdtempSync(join(tmpdir(), 'palisade-e2e-'));
  const port = await freePort();
  // PALISADE_E2E_POSTGRES=postgres://user@host:port runs each console on a fresh PostgreSQL
  // database instead of SQLite (created here with psql, dropped when the console stops).
  const pg = process.env.PALISADE_E2E_POSTGRES;
  const db = pg ? `palisade_e2e_${Date.now()}_${port}` : '';
  if (pg) {
    execFileSync('psql', [`${pg}/postgres`, '-qc', `CREATE DATABASE ${db}`]);
    extraArgs = ['--database-url', `${pg}/${db}`, ...extraArgs];
  }
  const args = ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs];
  const proc = spawn(bin, args, {
    env: { ...process.env, PALISADE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => { stdout += d.toString(); });
  proc.stderr!.on('data', (d) => { stderr += d.toString(); });
  // 'close' comes after the process exited and its output was read to the end.
  let gone: string | undefined;
  proc.on('close', (code, signal) => { gone ??= signal ? `was killed by ${signal}` : `exited with code ${code}`; });
  proc.on('error', (e) => { gone ??= `could not be started: ${e.message}`; });

  const baseUrl = `http://localhost:${port}`;
  const cleanUp = async () => {
    await terminate(proc, 15_000);
    rmSync(dataDir, { recursive: true, force: true });
    if (pg) execFileSync('psql', [`${pg}/postgres`, '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  };

  const deadline = Date.now() + readyTimeoutMs;
  let setupUrl: string | undefined;
  let lastProbe = 'not probed yet';
  for (;;) {
    if (gone) break;
    setupUrl ??= stdout.match(/^Setup URL: (\S+)$/m)?.[1];
    if (setupUrl) {
      try {
        const r = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) {
          return { baseUrl, setupUrl, proc, dataDir, stop: cleanUp };
        }
        lastProbe = `it answered ${r.status} ${(await r.text()).trim()}`;
      } catch (e) {
        lastProbe = `${(e as Error).message} ${((e as Error).cause as Error | undefined)?.message ?? ''}`.trim();
      }
    }
    if (Date.now() >= deadline) break;
    await sleep(100);
  }
  const secs = `${readyTimeoutMs / 1000} s`;
  const why = gone
    ? `it ${gone}`
    : !setupUrl
      ? `no "Setup URL:" line on its stdout within ${secs}`
      : `${baseUrl}/readyz did not answer 200 within ${secs} (last try: ${lastProbe})`;
  await cleanUp();
  throw new Error(
    `the console never became ready: ${why}\n` +
    `command: ${bin} ${args.join(' ')}\n` +
    `--- last ${STDERR_TAIL_LINES} lines of its stderr ---\n${tail(stderr, STDERR_TAIL_LINES)}`,
  );
}

/** Adds a virtual platform authenticator that holds discoverable credentials and verifies the user. */
export async function addPasskeyAuthenticator(page: Page): Promise<string> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

/** Registers the first owner through the setup page; leaves the page on the dashboard. */
export async function setupOwner(page: Page, c: Console, username = 'alice', displayName = 'Alice Example') {
  await addPasskeyAuthenticator(page);
  await page.goto(c.setupUrl);
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByRole('textbox', { name: 'Display name' }).fill(displayName);
  await page.getByRole('button', { name: /passkey/ }).click();
  await page.waitForURL(`${c.baseUrl}/`);
}

/** Opens a signed-in page and waits until it has hydrated (its forms are wired up). */
export async function open(page: Page, url: string) {
  await page.goto(url);
  await page.locator('body[data-hydrated="true"]').waitFor();
}

/** Creates a signing key set on the Keys page. */
export async function createKeySet(page: Page, c: Console, name: string, alg = 'ES256') {
  await open(page, `${c.baseUrl}/keys`);
  await page.getByRole('textbox', { name: 'Key set name' }).fill(name);
  await page.getByRole('combobox', { name: 'Algorithm' }).selectOption(alg);
  await page.getByRole('button', { name: 'Create key set' }).click();
  await expect(page.getByRole('region', { name: `${name} (${alg})` })).toBeVisible();
}

/** Registers a service client on the Clients page; returns its client_id and the secret shown once. */
export async function registerService(page: Page, c: Console, name: string): Promise<{ clientId: string; secret: string }> {
  await open(page, `${c.baseUrl}/clients`);
  await page.getByRole('button', { name: 'New service' }).click();
  await page.getByRole('textbox', { name: 'Client name' }).fill(name);
  await page.getByRole('button', { name: 'Register client' }).click();
  const panel = page.getByRole('region', { name: new RegExp(`New secret for ${name}`) });
  const secret = await panel.getByRole('textbox', { name: 'Client secret (shown once)' }).inputValue();
  await panel.getByRole('button', { name: /I have stored it/ }).click();
  const clientId = (await page.getByRole('row').filter({ hasText: name }).locator('code').first().textContent())!.trim();
  return { clientId, secret };
}
