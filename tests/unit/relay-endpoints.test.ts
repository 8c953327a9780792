/** The coordinator's view of its relay's UDP endpoints, as the TURN peer policy asks for it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RelayEndpoints } from '../../coordinator/media/RelayEndpoints';

function fixture() {
  const live: Array<{ address: string; port: number }> = [];
  let now = 0;
  let reads = 0;
  const endpoints = new RelayEndpoints(
    {
      relayEndpoints: () => {
        reads += 1;
        return [...live];
      },
    },
    () => now,
  );
  return { live, endpoints, advance: (ms: number) => (now += ms), reads: () => reads };
}

test('a live relay endpoint is known by exact ip:port, in any spelling of the ip', () => {
  const { live, endpoints } = fixture();
  live.push({ address: '127.0.0.1', port: 50000 });
  assert.is(endpoints.has('127.0.0.1', 50000), true);
  assert.is(endpoints.has('::ffff:127.0.0.1', 50000), true);
  assert.is(endpoints.has('127.0.0.1', 50001), false);
  assert.is(endpoints.has('127.0.0.2', 50000), false);
});

test('a connection created a moment ago is found; a closed one drops out within a second', () => {
  const { live, endpoints, advance } = fixture();
  assert.is(endpoints.has('127.0.0.1', 50000), false);
  live.push({ address: '127.0.0.1', port: 50000 });
  advance(60);
  assert.is(endpoints.has('127.0.0.1', 50000), true);
  live.length = 0;
  advance(1001);
  assert.is(endpoints.has('127.0.0.1', 50000), false);
});

test('hits are answered from the cache; a flood of misses rebuilds it rarely', () => {
  const { live, endpoints, advance, reads } = fixture();
  live.push({ address: '127.0.0.1', port: 50000 });
  endpoints.has('127.0.0.1', 50000);
  for (let i = 0; i < 1000; i++) {
    endpoints.has('127.0.0.1', 50000);
    endpoints.has('127.0.0.1', 1000 + i);
    advance(1);
  }
  // One rebuild per 50 ms of misses at most over one simulated second.
  assert.ok(reads() <= 21, `${reads()} rebuilds`);
});

test.run();
