// The harness itself: a console that never becomes ready fails `startConsole` quickly, saying why
// and showing the console's own stderr, instead of a hook timeout with nothing to go on.
import { test, expect } from '@playwright/test';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsole } from './console';

test('a console that exits at start is reported with its exit code and stderr', async () => {
  const started = Date.now();
  const err = await startConsole(['--master-key-file', '/proc/no-such-dir/master.key']).then(
    () => null,
    (e: Error) => e,
  );
  expect(err, 'startConsole must reject').not.toBeNull();
  expect(err!.message).toContain('the console never became ready: it exited with code 1');
  expect(err!.message).toMatch(/--- last 40 lines of its stderr ---\n.*master key file \/proc\/no-such-dir\/master\.key/);
  expect(Date.now() - started, 'no waiting for a process that is gone').toBeLessThan(15_000);
});

test('a console that never answers is reported after the bounded wait, and stopped', async () => {
  // Stands in for a console that hangs before printing its setup link.
  const dir = mkdtempSync(join(tmpdir(), 'palisade-e2e-fake-'));
  const bin = join(dir, 'hangs');
  writeFileSync(bin, '#!/bin/sh\necho "warming up forever" >&2\nexec sleep 120\n');
  chmodSync(bin, 0o755);
  try {
    const started = Date.now();
    const err = await startConsole([], { bin, readyTimeoutMs: 1_500 }).then(
      () => null,
      (e: Error) => e,
    );
    const waited = Date.now() - started;
    expect(err, 'startConsole must reject').not.toBeNull();
    expect(err!.message).toContain('the console never became ready: no "Setup URL:" line on its stdout within 1.5 s');
    expect(err!.message).toContain('warming up forever');
    expect(waited).toBeGreaterThanOrEqual(1_500);
    expect(waited, 'the process is stopped, not waited for').toBeLessThan(10_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a console that prints its setup link but never answers /readyz is reported with the last probe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-e2e-fake-'));
  const bin = join(dir, 'never-listens');
  writeFileSync(bin, '#!/bin/sh\necho "Setup URL: http://localhost:1/setup?token=x"\necho "database locked" >&2\nexec sleep 120\n');
  chmodSync(bin, 0o755);
  try {
    const err = await startConsole([], { bin, readyTimeoutMs: 1_500 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err, 'startConsole must reject').not.toBeNull();
    expect(err!.message).toMatch(/never became ready: http:\/\/localhost:\d+\/readyz did not answer 200 within 1\.5 s \(last try: .*ECONNREFUSED/);
    expect(err!.message).toContain('database locked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
