/**
 * The monitoring files in docs/monitoring are usable as shipped: the Grafana dashboard is
 * JSON Grafana imports (panels with Prometheus queries), every metric its queries name is
 * one a real server's `/metrics` serves, and the scrape config points Prometheus there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../../coordinator/config';
import { startServer, type TestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

const DIR = join(ROOT_DIR, 'docs', 'monitoring');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string }>;
}

let server: TestServer;
test.before(async () => {
  server = await startServer({ mediaWorkers: 1 });
  server.coordinator.media.workers.warmUp();
});
test.after(async () => {
  await server.dispose();
});

test('the Grafana dashboard parses, and every query names a metric a live server serves', async () => {
  const dashboard = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: Array<{ name: string; query: unknown }> } };
  assert.is(dashboard.title, 'meetmesh');
  assert.ok(dashboard.panels.length >= 10);
  const ids = new Set(dashboard.panels.map((p) => p.id));
  assert.is(ids.size, dashboard.panels.length, 'panel ids are unique');

  const expressions = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => (typeof v.query === 'object' && v.query ? (v.query as { query: string }).query : '')),
  ];
  const named = new Set(expressions.flatMap((e) => e.match(/\b(?:meetmesh|process)_[a-z0-9_]+/g) ?? []));
  assert.ok(named.has('meetmesh_media_worker_cpu_seconds_total') && named.has('meetmesh_node_cpu_seconds_total'), 'the dashboard draws the workers and the node');

  // A worker process reports its own series once it runs.
  const served = await waitFor(async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    // Every family declared (a counter with nothing counted yet, e.g. faults, has its TYPE line only).
    const names = new Set(text.split('\n').flatMap((l) => /^# TYPE (\S+) /.exec(l)?.[1] ?? []));
    return names.has('meetmesh_media_worker_resident_memory_bytes') ? names : undefined;
  }, 10_000, 'the media worker to report');
  for (const name of named) assert.ok(served.has(name), `${name} (in the dashboard) is served by /metrics`);
});

test('the Prometheus scrape config scrapes /metrics', () => {
  const config = readFileSync(join(DIR, 'prometheus.yml'), 'utf8');
  assert.match(config, /^scrape_configs:\n {2}- job_name: meetmesh\n {4}metrics_path: \/metrics$/m);
  assert.match(config, /^ {6}- targets:\n {10}- 127\.0\.0\.1:8080$/m);
});

test.run();
