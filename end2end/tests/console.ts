// Helpers: start a real `palisade` console on a free port with a fresh data dir, and give a page
// a CDP virtual WebAuthn authenticator (a platform passkey with user verification).
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from '@playwright/test';

export interface Console {
  baseUrl: string;
  setupUrl: string;
  proc: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
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

export async function startConsole(extraArgs: string[] = []): Promise<Console> {
  const bin = process.env.PALISADE_BIN || resolve(__dirname, '../../target/debug/palisade');
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
  const proc = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, ...extraArgs], {
    env: { ...process.env, PALISADE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += d.toString(); });
  const setupUrl = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`no "Setup URL:" line within 20 s; stderr:\n${stderr}`)), 20_000);
    proc.stdout!.on('data', (d) => {
      out += d.toString();
      const m = out.match(/^Setup URL: (\S+)$/m);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`console exited with ${code}; stderr:\n${stderr}`)); });
  });
  const baseUrl = `http://localhost:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl, setupUrl, proc, dataDir,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
      if (pg) execFileSync('psql', [`${pg}/postgres`, '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
    },
  };
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
