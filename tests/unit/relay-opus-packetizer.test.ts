/** RTP numbering of the relay's mixed audio: sequence, timestamp, marker, wrap-around and silences. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Encoder } from '@evan/opus';
import { OpusPacketizer, type AudioRtpFields } from '../../relay/OpusPacketizer';

const SEQ_SPACE = 0x1_0000;
const TS_SPACE = 0x1_0000_0000;

/** A packetizer on a clock the test moves by hand. */
function clocked(): { packetizer: OpusPacketizer; at: (ms: number) => void } {
  let now = 0;
  return { packetizer: new OpusPacketizer(() => now), at: (ms) => (now = ms) };
}

/** Real Opus packets of `ms` milliseconds, as the relay's mix encoder makes them (48 kHz mono). */
function opusPackets(ms: number, count: number): Uint8Array[] {
  const encoder = new Encoder({ channels: 1, sample_rate: 48_000, application: 'voip' });
  const samples = ms * 48;
  return Array.from({ length: count }, (_, k) => {
    const pcm = new Int16Array(samples);
    for (let i = 0; i < samples; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * (k * samples + i)) / 48_000));
    return encoder.encode(pcm);
  });
}

const FRAME_20MS = opusPackets(20, 1)[0]!;

/** Sends `payload` at each of the given times and returns the header fields. */
function sendAt(times: number[], payload: Uint8Array = FRAME_20MS): AudioRtpFields[] {
  const { packetizer, at } = clocked();
  return times.map((ms) => {
    at(ms);
    return packetizer.next(payload);
  });
}

/** Differences between consecutive values modulo `space` (so a wrap reads as a small step). */
function steps(values: number[], space: number): number[] {
  return values.slice(1).map((value, i) => (value - values[i]! + space) % space);
}

const every20ms = (count: number, from = 0) => Array.from({ length: count }, (_, i) => from + i * 20);

test('the first packet of the stream starts a talkspurt (marker set)', () => {
  const [first] = sendAt([0]);
  assert.is(first!.marker, true);
});

test('steady 20 ms packets: sequence +1 and timestamp +960 per packet, no marker after the first', () => {
  const fields = sendAt(every20ms(50));
  assert.equal(steps(fields.map((f) => f.sequenceNumber), SEQ_SPACE), Array(49).fill(1));
  assert.equal(steps(fields.map((f) => f.timestamp), TS_SPACE), Array(49).fill(960));
  assert.equal(fields.slice(1).map((f) => f.marker), Array(49).fill(false));
});

test('the sequence number wraps from 65535 to 0 and keeps counting by one', () => {
  // The initial number is random (RFC 3550 §5.1), so 65,537 packets pass 65535 exactly once.
  const fields = sendAt(every20ms(SEQ_SPACE + 1));
  const seqs = fields.map((f) => f.sequenceNumber);
  let wraps = 0;
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i]! !== ((seqs[i - 1]! + 1) & 0xffff)) assert.unreachable(`sequence ${seqs[i - 1]} then ${seqs[i]}`);
    if (seqs[i - 1] === 0xffff) {
      assert.is(seqs[i], 0);
      wraps += 1;
    }
  }
  assert.is(wraps, 1);
  assert.ok(seqs.every((s) => Number.isInteger(s) && s >= 0 && s < SEQ_SPACE));
  assert.ok(fields.slice(1).every((f) => !f.marker), 'a wrap is no talkspurt');
});

test('the timestamp advances by the previous packet\'s duration: 10, 20, 40 and 60 ms packets', () => {
  for (const ms of [10, 20, 40, 60]) {
    const { packetizer, at } = clocked();
    const fields = opusPackets(ms, 6).map((packet, i) => {
      at(i * ms);
      return packetizer.next(packet);
    });
    assert.equal(steps(fields.map((f) => f.timestamp), TS_SPACE), Array(5).fill(ms * 48), `${ms} ms packets`);
    assert.equal(steps(fields.map((f) => f.sequenceNumber), SEQ_SPACE), Array(5).fill(1), `${ms} ms packets`);
    assert.ok(fields.slice(1).every((f) => !f.marker), `${ms} ms packets at their own cadence are no silence`);
  }
});

test('when the packet duration changes, each step is the duration of the packet before it', () => {
  const { packetizer, at } = clocked();
  const [p60] = opusPackets(60, 1);
  const [p10] = opusPackets(10, 1);
  at(0);
  const a = packetizer.next(p60!);
  at(60);
  const b = packetizer.next(FRAME_20MS);
  at(80);
  const c = packetizer.next(p10!);
  at(90);
  const d = packetizer.next(FRAME_20MS);
  assert.equal(steps([a, b, c, d].map((f) => f.timestamp), TS_SPACE), [2880, 960, 480]);
  assert.equal([b, c, d].map((f) => f.marker), [false, false, false]);
});

test('after a silence the timestamp jumps by the time not sent, the marker is set, and the sequence has no hole', () => {
  // Sent at 0, 20, 40; nothing for 160 ms; resumes at 200 and 220.
  const fields = sendAt([0, 20, 40, 200, 220]);
  assert.equal(steps(fields.map((f) => f.sequenceNumber), SEQ_SPACE), [1, 1, 1, 1], 'no sequence gap, so no loss is reported');
  assert.equal(steps(fields.map((f) => f.timestamp), TS_SPACE), [960, 960, 160 * 48, 960]);
  assert.equal(fields.map((f) => f.marker), [true, false, false, true, false]);
});

test('a packet sent up to two frames after the one before is jitter, not a silence: timestamps stay contiguous', () => {
  // The tick due at 40 runs at 59 (39 ms after the one before); the next is on time at 60.
  const fields = sendAt([0, 20, 59, 60, 80]);
  assert.equal(steps(fields.map((f) => f.timestamp), TS_SPACE), [960, 960, 960, 960]);
  assert.equal(fields.slice(1).map((f) => f.marker), [false, false, false, false]);
});

test('the timestamp wraps modulo 2^32 and stays an unsigned 32-bit integer', () => {
  // Thirty one-hour silences move the clock by 5.2e9 samples, more than 2^32 whatever the random start.
  const hour = 3_600_000;
  const fields = sendAt(Array.from({ length: 31 }, (_, i) => i * hour));
  const timestamps = fields.map((f) => f.timestamp);
  assert.ok(timestamps.every((t) => Number.isInteger(t) && t >= 0 && t < TS_SPACE));
  assert.equal(steps(timestamps, TS_SPACE), Array(30).fill((hour / 20) * 960));
  assert.ok(timestamps.some((t, i) => i > 0 && t < timestamps[i - 1]!), 'the timestamp wrapped at least once');
});

test('each stream starts from a random sequence number and timestamp (RFC 3550 §5.1)', () => {
  const starts = Array.from({ length: 4 }, () => sendAt([0])[0]!);
  const distinct = new Set(starts.map((f) => `${f.sequenceNumber}/${f.timestamp}`));
  // Four equal (sequence, timestamp) pairs from 48 random bits would be a broken generator.
  assert.ok(distinct.size > 1, JSON.stringify(starts));
});

// After a stall the mixer's TickClock runs the missed ticks back to back. Each frame then
// carries its tick's place on the 20 ms schedule (`mediaTimeMs`), so the burst is not read as
// a silence: five ticks due at 20..100 but all run at 100 keep contiguous timestamps.
test('frames of a catch-up burst after a stall keep contiguous timestamps', () => {
  const { packetizer, at } = clocked();
  const fields = [0, 20, 40, 60, 80, 100].map((due) => {
    at(due === 0 ? 0 : 100);
    return packetizer.next(FRAME_20MS, due);
  });
  assert.equal(steps(fields.map((f) => f.timestamp), TS_SPACE), [960, 960, 960, 960, 960]);
  assert.equal(fields.slice(1).map((f) => f.marker), [false, false, false, false, false]);
});

test('ticks the mixer gave up after a long stall show as a timestamp jump with a marker', () => {
  const { packetizer, at } = clocked();
  at(0);
  const first = packetizer.next(FRAME_20MS, 0);
  at(500);
  const after = packetizer.next(FRAME_20MS, 500);
  assert.is(steps([first.timestamp, after.timestamp], TS_SPACE)[0], 25 * 960);
  assert.ok(after.marker);
});

test.run();
