import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

test('the runner counts skipped tests, and fails a file without a summary, one that does not exit and one that spins', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts'], {
    cwd: root,
    env: { ...process.env, TESTS_DIR: 'tests/fixtures/runner', TEST_EXIT_GRACE_MS: '1000', TEST_STUCK_EXTRA_MS: '1000' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = run.stdout + run.stderr;
  const lines = run.stdout.trim().split('\n');
  assert.is(lines.at(-1), 'tests: 3 passed, 3 failed, 1 skipped', out);
  assert.is(run.status, 1);
  assert.match(out, /no-summary\.test\.ts \(printed no test summary/);
  assert.match(out, /leaks-a-timer\.test\.ts \(did not exit within/);
  assert.match(out, /interval 60000 ms: forgottenHeartbeat, made at .*leaks-a-timer.test.ts/, 'names the handle that held the process');
  assert.match(out, /spins-after-summary\.test\.ts \(did not close after its summary \(process \d+ is alive: state R/);
  assert.match(out, /JavaScript stack[^]*spinForever/, `says where it spins:\n${out}`);
});

test.run();
