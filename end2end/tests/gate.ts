// Helpers for the enforcement loop: a real `palisade-gate` (enrolled with the command the
// Gates page shows, then serving on free loopback ports) and a plain upstream API.
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, terminate } from './console';

const gateBin = () => process.env.PALISADE_GATE_BIN || resolve(__dirname, '../../target/debug/palisade-gate');

export interface Upstream { url: string; hits: number; server: Server; stop(): Promise<void> }

/** An API that answers 200 "upstream ok" to everything and counts what reached it. */
export async function startUpstream(): Promise<Upstream> {
  const port = await freePort();
  const u: Upstream = {
    url: `http://127.0.0.1:${port}`,
    hits: 0,
    server: createServer((_req, res) => { u.hits++; res.writeHead(200, { 'content-type': 'text/plain' }); res.end('upstream ok\n'); }),
    stop: () => new Promise((ok) => u.server.close(() => ok())),
  };
  await new Promise<void>((ok) => u.server.listen(port, '127.0.0.1', () => ok()));
  return u;
}

export interface Gate { url: string; adminUrl: string; dataDir: string; proc?: ChildProcess; stderr: string; stop(): Promise<void> }

/** A data dir and two free ports for a gate; `adminUrl` is what the Gates page gets as push URL. */
export async function prepareGate(): Promise<Gate> {
  const dataDir = mkdtempSync(join(tmpdir(), 'palisade-gate-e2e-'));
  const g: Gate = {
    url: `http://127.0.0.1:${await freePort()}`,
    adminUrl: `http://127.0.0.1:${await freePort()}`,
    dataDir,
    stderr: '',
    stop: async () => { if (g.proc) await terminate(g.proc, 5_000); rmSync(dataDir, { recursive: true, force: true }); },
  };
  return g;
}

/** Runs the enrolment command exactly as shown, with its data dir pointed at the gate's. */
export function enrol(g: Gate, command: string): string {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'palisade-gate' || words[1] !== 'enroll') throw new Error(`unexpected command: ${command}`);
  const args = words.slice(1);
  const i = args.indexOf('--data-dir');
  if (i >= 0) args[i + 1] = g.dataDir; else args.push('--data-dir', g.dataDir);
  return execFileSync(gateBin(), args, { encoding: 'utf8', env: { ...process.env, PALISADE_GATE_LOG: 'warn' } });
}

/** Starts `palisade-gate serve` in front of `upstream` and waits for its admin listener. */
export async function serve(g: Gate, upstream: string, pullSecs = 2): Promise<void> {
  const args = ['serve', '--upstream', upstream, '--listen', g.url.replace('http://', ''),
    '--admin-listen', g.adminUrl.replace('http://', ''), '--data-dir', g.dataDir,
    '--pull-interval-secs', String(pullSecs)];
  g.proc = spawn(gateBin(), args, { env: { ...process.env, PALISADE_GATE_LOG: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  g.proc.stderr!.on('data', (d) => { g.stderr += d.toString(); });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${g.adminUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (r.ok) return;
    } catch { /* not up yet */ }
    if (g.proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the gate did not start: ${g.stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
