// Helpers for the enforcement loop: a real `palisade-gate` (enrolled with the command the
// Gates page shows, then serving on free loopback ports) and a plain upstream API.
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { connect } from 'node:net';
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

export interface Gate {
  url: string;
  adminUrl: string;
  /** `127.0.0.1:port` of the HTTPS listener, once `serve` started one (`tls: true`). */
  tlsAddr?: string;
  dataDir: string;
  proc?: ChildProcess;
  stderr: string;
  stop(): Promise<void>;
}

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

export interface ServeOptions {
  /** `--pull-interval-secs` (default 2). */
  pullSecs?: number;
  /** Also serve HTTPS (`--tls-listen`) on a free loopback port, recorded in `g.tlsAddr`. */
  tls?: boolean;
  /** `--redis`: the Redis that policies with scope cluster share. */
  redis?: string;
}

/** Starts `palisade-gate serve` in front of `upstream` and waits for its admin listener.
 * `opts` is the pull interval in seconds (as before) or a `ServeOptions`. */
export async function serve(g: Gate, upstream: string, opts: number | ServeOptions = 2): Promise<void> {
  const o: ServeOptions = typeof opts === 'number' ? { pullSecs: opts } : opts;
  const args = ['serve', '--upstream', upstream, '--listen', g.url.replace('http://', ''),
    '--admin-listen', g.adminUrl.replace('http://', ''), '--data-dir', g.dataDir,
    '--pull-interval-secs', String(o.pullSecs ?? 2)];
  if (o.tls) {
    g.tlsAddr ??= `127.0.0.1:${await freePort()}`;
    args.push('--tls-listen', g.tlsAddr);
  }
  if (o.redis) args.push('--redis', o.redis);
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

export interface Redis { url: string; port: number; proc: ChildProcess; stop(): Promise<void> }

/** A throwaway `redis-server` on a free loopback port (no persistence), ready when it answers PING. */
export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += d.toString(); });
  const ping = () => new Promise<boolean>((ok) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1_000, () => { s.destroy(); ok(false); });
    s.on('error', () => ok(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { s.destroy(); ok(d.toString().startsWith('+PONG')); });
  });
  const deadline = Date.now() + 10_000;
  while (!(await ping())) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}/0`, port, proc, stop: () => terminate(proc, 5_000) };
}
