/**
 * `npm run bench`: runs every benchmark, one after another, each in its own process
 * (`npm run bench -- mixer switch-gap` runs only those). Each prints its figures and
 * writes bench-results/<name>.json and a table (see the README).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runInPrivateNetwork } from './privateNetwork';

// In a network namespace of their own: bench traffic stays on loopback (scripts/privateNetwork.ts).
await runInPrivateNetwork('benchmarks');
const root = join(import.meta.dirname, '..');
const ALL = ['mixer', 'media-workers', 'relay-forwarding', 'downlink', 'relay-capacity', 'join-time', 'mouth-to-ear', 'browser-cpu', 'switch-gap', 'faults', 'cluster', 'weak-viewer'];
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;

const failed: string[] = [];
for (const name of chosen) {
  // Only benchmarks: bench/ also holds shared measuring code that is not one.
  if (!ALL.includes(name)) {
    console.log(`no benchmark named "${name}" (have: ${ALL.join(', ')})`);
    failed.push(name);
    continue;
  }
  console.log(`\n=== bench/${name}.ts`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', `${name}.ts`)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed.push(name);
}
console.log(failed.length === 0 ? '\nall benchmarks done; results in bench-results/' : `\nbenchmarks that failed: ${failed.join(', ')}`);
process.exitCode = failed.length === 0 ? 0 : 1;
