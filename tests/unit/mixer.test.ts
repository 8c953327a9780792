/**
 * The relay audio mixer, judged by what participants hear: every talker sends a sine at its
 * own frequency, Opus-encoded as a browser would; each participant's output is decoded and
 * the energy at every frequency measured (Goertzel).
 */
import { Decoder, Encoder } from '@evan/opus';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_SAMPLES } from '../../relay/audio/AudioFormat';
import { AudioMixer, DTX_HANGOVER_FRAMES, DTX_KEEPALIVE_FRAMES, type AudioMixerOptions } from '../../relay/audio/AudioMixer';
import { pcmFromBytes, ToneGenerator, toneAmplitude } from '../../relay/audio/tones';

const AMPLITUDE = 6000;
/** A tone counts as heard above half its amplitude, and as absent below 3% of it. */
const HEARD = 0.5 * AMPLITUDE;
const ABSENT = 0.03 * AMPLITUDE;

/** One simulated browser: a tone, an Opus encoder and an RTP sequence counter. */
class Browser {
  readonly tone: ToneGenerator;
  readonly encoder: Encoder;
  seq: number;

  constructor(frequency: number, amplitude: number, firstSeq: number, channels: 1 | 2) {
    this.tone = new ToneGenerator(frequency, amplitude);
    this.encoder = new Encoder({ channels, sample_rate: 48000, application: 'voip' });
    this.seq = firstSeq;
  }

  /** The next 20 ms packet (stereo browsers duplicate the mono tone in both channels). */
  packet(): { seq: number; payload: Uint8Array } {
    const mono = this.tone.next();
    let pcm = mono;
    if (this.encoder.channels === 2) {
      pcm = new Int16Array(mono.length * 2);
      mono.forEach((s, i) => pcm.set([s, s], 2 * i));
    }
    const packet = { seq: this.seq, payload: this.encoder.encode(pcm) };
    this.seq = (this.seq + 1) & 0xffff;
    return packet;
  }
}

/** A meeting around one mixer: records every packet each participant receives. */
class Meeting {
  readonly mixer: AudioMixer;
  readonly received = new Map<string, Uint8Array[]>();
  readonly browsers = new Map<string, Browser>();
  readonly encodesPerTick: number[] = [];

  constructor(ids: string[], options: AudioMixerOptions = {}) {
    this.mixer = new AudioMixer({
      ...options,
      onFrame: (id, opus) => this.received.get(id)?.push(opus),
    });
    for (const id of ids) {
      this.mixer.addParticipant(id);
      this.received.set(id, []);
    }
  }

  /** Makes `id` talk at `frequency` from now on. */
  talk(id: string, frequency: number, opts: { amplitude?: number; firstSeq?: number; channels?: 1 | 2 } = {}): Browser {
    const browser = new Browser(frequency, opts.amplitude ?? AMPLITUDE, opts.firstSeq ?? 1000, opts.channels ?? 1);
    this.browsers.set(id, browser);
    return browser;
  }

  /** Runs `ticks` mix steps; before each, `beforeTick` sends (default: every browser talks). */
  run(ticks: number, beforeTick: (tick: number) => void = () => this.sendAll()): void {
    for (let t = 0; t < ticks; t++) {
      beforeTick(t);
      const before = this.mixer.counters.encodes;
      this.mixer.tick();
      this.encodesPerTick.push(this.mixer.counters.encodes - before);
    }
  }

  /** Every talking browser sends its next packet. */
  sendAll(except?: string): void {
    for (const [id, browser] of this.browsers) if (id !== except) this.send(id, browser.packet());
  }

  send(id: string, packet: { seq: number; payload: Uint8Array }): void {
    this.mixer.pushPacket(id, packet.seq, packet.seq * 960, packet.payload);
  }

  /** What `id` heard, decoded, from tick `from` (0-based) to `to`. */
  heard(id: string, from: number, to?: number): Int16Array {
    const decoder = new Decoder({ channels: 1, sample_rate: 48000 });
    const frames = (this.received.get(id) ?? []).map((p) => pcmFromBytes(decoder.decode(p)));
    const chosen = frames.slice(from, to);
    const out = new Int16Array(chosen.length * FRAME_SAMPLES);
    chosen.forEach((f, i) => out.set(f.subarray(0, FRAME_SAMPLES), i * FRAME_SAMPLES));
    return out;
  }

  /** Amplitude of `frequency` in what `id` heard from tick `from` on. */
  amplitude(id: string, frequency: number, from = 15, to?: number): number {
    return toneAmplitude(this.heard(id, from, to), frequency);
  }
}

const FREQ = { a: 440, b: 700, c: 1100, d: 1700 } as const;

test('a talker never hears themself, and hears every other talker', () => {
  const meeting = new Meeting(['a', 'b', 'c', 'd']);
  for (const [id, f] of Object.entries(FREQ)) meeting.talk(id, f);
  meeting.run(60);
  for (const [id, own] of Object.entries(FREQ)) {
    const ownLevel = meeting.amplitude(id, own);
    assert.ok(ownLevel < ABSENT, `${id} hears itself at ${ownLevel.toFixed(0)}`);
    for (const [other, f] of Object.entries(FREQ)) {
      if (other === id) continue;
      const level = meeting.amplitude(id, f);
      assert.ok(level > HEARD, `${id} hears ${other} only at ${level.toFixed(0)}`);
    }
  }
  meeting.mixer.close();
});

test('silent listeners share one encoded mix: encodes grow with talkers, not participants', () => {
  for (const listeners of [3, 10]) {
    const ids = ['a', 'b', ...Array.from({ length: listeners }, (_, i) => `l${i}`)];
    const meeting = new Meeting(ids);
    meeting.talk('a', FREQ.a);
    meeting.talk('b', FREQ.b);
    meeting.run(40);
    // After warm-up: a and b get their own N−1 mixes, every listener the one shared mix.
    assert.equal(new Set(meeting.encodesPerTick.slice(5)), new Set([3]));
    for (let t = 5; t < 40; t++) {
      const shared = meeting.received.get('l0')![t];
      for (let i = 1; i < listeners; i++) assert.is(meeting.received.get(`l${i}`)![t], shared);
      assert.is.not(meeting.received.get('a')![t], shared);
    }
    assert.ok(meeting.amplitude('l0', FREQ.a) > HEARD && meeting.amplitude('l0', FREQ.b) > HEARD);
    meeting.mixer.close();
  }
});

test('three full-scale talkers are limited, never wrapped around', () => {
  const meeting = new Meeting(['a', 'b', 'c', 'listener']);
  for (const id of ['a', 'b', 'c'] as const) meeting.talk(id, FREQ[id], { amplitude: 32767 });
  meeting.run(60);
  const heard = meeting.heard('listener', 15);
  let peak = 0;
  let maxStep = 0;
  for (let i = 0; i < heard.length; i++) {
    peak = Math.max(peak, Math.abs(heard[i]));
    if (i > 0) maxStep = Math.max(maxStep, Math.abs(heard[i] - heard[i - 1]));
  }
  assert.ok(peak < 32000, `peak ${peak} is at the clipping point`);
  // A wrapped sample jumps by ~65536; three tones below 1.2 kHz move < 4000 per sample.
  assert.ok(maxStep < 12_000, `a ${maxStep} jump between samples: wrap-around`);
  for (const id of ['a', 'b', 'c'] as const) {
    const level = meeting.amplitude('listener', FREQ[id]);
    assert.ok(level > 5000, `${id} only at ${level.toFixed(0)} under the limiter`);
  }
  meeting.mixer.close();
});

test('a muted participant is left out of every mix but still hears the others', () => {
  const levels: Array<ReadonlyMap<string, number>> = [];
  const meeting = new Meeting(['a', 'b', 'c', 'd'], { onLevels: (l) => levels.push(l) });
  for (const id of ['a', 'b', 'c'] as const) meeting.talk(id, FREQ[id]);
  meeting.mixer.setMuted('b', true);
  meeting.run(60);
  for (const id of ['a', 'c', 'd']) {
    assert.ok(meeting.amplitude(id, FREQ.b) < ABSENT, `${id} hears muted b`);
  }
  assert.ok(meeting.amplitude('d', FREQ.a) > HEARD && meeting.amplitude('d', FREQ.c) > HEARD);
  assert.ok(meeting.amplitude('b', FREQ.a) > HEARD && meeting.amplitude('b', FREQ.c) > HEARD);
  assert.is(levels.at(-1)!.get('b'), 0);
  // Unmuted, b is heard again.
  meeting.mixer.setMuted('b', false);
  meeting.run(40);
  assert.ok(meeting.amplitude('d', FREQ.b, 75) > HEARD, 'b heard after unmute');
  meeting.mixer.close();
});

test('a silent talker (DTX or no packets) stops costing an encode', () => {
  // Without the mixer's own DTX, which would also spare b's own (silent) mix at the end.
  const meeting = new Meeting(['a', 'b', 'c', 'd', 'e'], { dtx: false });
  for (const id of ['a', 'b', 'c'] as const) meeting.talk(id, FREQ[id]);
  meeting.run(30);
  assert.is(meeting.encodesPerTick.at(-1), 4, 'three talkers plus the shared mix for d and e');
  // c stops talking: its browser now encodes silence with DTX (as Chrome does) and sends
  // whatever the encoder produces, which soon is only 1-byte DTX packets.
  const c = meeting.browsers.get('c')!;
  c.encoder.dtx = true;
  const silence = new Int16Array(FRAME_SAMPLES);
  meeting.run(40, () => {
    meeting.sendAll('c');
    meeting.send('c', { seq: c.seq, payload: c.encoder.encode(silence) });
    c.seq += 1;
  });
  assert.is(meeting.encodesPerTick.at(-1), 3, 'c now shares the listener mix');
  const t = meeting.received.get('c')!.length - 1;
  assert.is(meeting.received.get('c')![t], meeting.received.get('d')![t]);
  // Then a stops sending altogether (no packets at all), and so does c.
  meeting.browsers.delete('a');
  meeting.browsers.delete('c');
  meeting.run(40);
  assert.is(meeting.encodesPerTick.at(-1), 2, 'only b still costs its own encode');
  assert.ok(meeting.amplitude('a', FREQ.b, 90) > HEARD, 'a, now a listener, still hears b');
  meeting.mixer.close();
});

test('DTX: a mix with nobody in it is sent for a few frames, then only every 400 ms, and resumes at once', () => {
  const meeting = new Meeting(['a', 'b', 'c']);
  meeting.run(100, () => {});
  // Nobody talks: the shared listener mix is silence.
  const quiet = DTX_HANGOVER_FRAMES + Math.floor(100 / DTX_KEEPALIVE_FRAMES);
  for (const id of ['a', 'b', 'c']) assert.is(meeting.received.get(id)!.length, quiet, `${id}: hangover frames, then one per 400 ms`);
  assert.is(meeting.mixer.counters.encodes, quiet, 'one encode per frame sent, shared by all');
  // a starts talking: b and c hear it from the next tick; a's own mix (nobody else) is silence.
  meeting.talk('a', FREQ.a);
  meeting.run(60);
  const missed = quiet + 60 - meeting.received.get('b')!.length;
  assert.ok(missed >= 0 && missed <= 2, `b gets every frame from a's first mixed one on (the jitter buffer holds a's first packets): ${missed} missed`);
  assert.ok(meeting.received.get('a')!.length < quiet + 10, 'a, alone in its own mix, stays quiet');
  assert.ok(meeting.amplitude('b', FREQ.a, quiet + 5) > HEARD, 'b hears a');
  // Without DTX every participant gets a frame every tick.
  const plain = new Meeting(['a', 'b'], { dtx: false });
  plain.run(30, () => {});
  assert.is(plain.received.get('a')!.length, 30);
  meeting.mixer.close();
  plain.mixer.close();
});

test('packets arriving out of order are played in order, without loss', () => {
  const meeting = new Meeting(['a', 'b']);
  const a = new Browser(FREQ.a, AMPLITUDE, 1000, 1);
  const packets = Array.from({ length: 60 }, () => a.packet());
  // Every pair swapped on the wire: 1, 0, 3, 2, ... one packet per tick.
  meeting.run(60, (t) => meeting.send('a', packets[t ^ 1]));
  const counters = meeting.mixer.counters;
  assert.is(counters.concealed, 0);
  assert.is(counters.latePackets, 0);
  assert.ok(meeting.amplitude('b', FREQ.a) > 0.8 * AMPLITUDE, 'a clean, continuous tone');
  meeting.mixer.close();
});

test('a lost packet is concealed and a packet later than the window is dropped, both counted', () => {
  const meeting = new Meeting(['a', 'b']);
  const a = meeting.talk('a', FREQ.a);
  let held: { seq: number; payload: Uint8Array } | null = null;
  meeting.run(60, (tick) => {
    const packet = a.packet();
    if (tick === 20) held = packet; // delayed by 5 ticks: its slot is concealed meanwhile
    else if (tick !== 30) meeting.send('a', packet); // lost for good
    if (tick === 25 && held !== null) meeting.send('a', held);
  });
  const counters = meeting.mixer.counters;
  assert.is(counters.concealed, 2, 'slots 20 and 30 concealed by Opus PLC');
  assert.is(counters.latePackets, 1, 'the packet for slot 20 arrived too late');
  // Concealment carries the tone through the gaps instead of dropping to silence.
  for (const gap of [21, 31]) {
    const level = meeting.amplitude('b', FREQ.a, gap, gap + 2);
    assert.ok(level > 0.3 * AMPLITUDE, `tone at ${level.toFixed(0)} around the gap at ${gap}`);
  }
  meeting.mixer.close();
});

test('sequence numbers wrap from 65535 to 0 without a glitch', () => {
  const meeting = new Meeting(['a', 'b']);
  meeting.talk('a', FREQ.a, { firstSeq: 65_510 });
  meeting.run(60);
  const counters = meeting.mixer.counters;
  assert.is(counters.concealed + counters.latePackets, 0);
  assert.ok(meeting.amplitude('b', FREQ.a, 15, 40) > 0.8 * AMPLITUDE, 'tone across the wrap');
  meeting.mixer.close();
});

test('a corrupt packet is concealed and reported, never stalls the mix', () => {
  const errors: Array<string | undefined> = [];
  const meeting = new Meeting(['a', 'b', 'c'], { onError: (_e, id) => errors.push(id) });
  const a = meeting.talk('a', FREQ.a);
  meeting.talk('b', FREQ.b);
  meeting.run(50, (tick) => {
    meeting.sendAll('a');
    const packet = a.packet();
    if (tick === 20) packet.payload = new Uint8Array([0xff, 0xff, 0x01]);
    meeting.send('a', packet);
  });
  assert.is(meeting.mixer.counters.decodeErrors, 1);
  assert.equal(errors, ['a']);
  assert.is(meeting.received.get('c')!.length, 50, 'a packet every tick');
  assert.ok(meeting.amplitude('c', FREQ.a) > HEARD && meeting.amplitude('c', FREQ.b) > HEARD);
  meeting.mixer.close();
});

test('malformed Opus packets (RFC 6716 §3.4) from a client are dropped and counted; the mix goes on', () => {
  const errors: Array<string | undefined> = [];
  const meeting = new Meeting(['a', 'b', 'c'], { onError: (_e, id) => errors.push(id) });
  const a = meeting.talk('a', FREQ.a);
  meeting.talk('b', FREQ.b);
  const malformed = [
    new Uint8Array([(31 << 3) | 1, 0x11, 0x22, 0x33]), // code 1, odd payload (R3)
    new Uint8Array([(31 << 3) | 2, 200, 0x11]), // code 2, first frame past the end (R4)
    new Uint8Array([(31 << 3) | 3, 0x80 | 3, 1]), // code 3 VBR, a frame length missing (R7)
  ];
  meeting.run(50, (tick) => {
    meeting.sendAll('a');
    const packet = a.packet();
    if (tick >= 20 && tick < 20 + malformed.length) packet.payload = malformed[tick - 20]!;
    meeting.send('a', packet);
  });
  assert.is(meeting.mixer.counters.decodeErrors, malformed.length);
  assert.equal(errors, ['a', 'a', 'a']);
  assert.is(meeting.received.get('c')!.length, 50, 'a packet every tick');
  assert.ok(meeting.amplitude('c', FREQ.a) > HEARD && meeting.amplitude('c', FREQ.b) > HEARD);
  meeting.mixer.close();
});

test("a browser's stereo-coded packets (opus/48000/2) are mixed as mono", () => {
  const meeting = new Meeting(['a', 'b']);
  meeting.talk('a', FREQ.a, { channels: 2 });
  meeting.run(50);
  assert.ok(meeting.amplitude('b', FREQ.a) > HEARD);
  meeting.mixer.close();
});

test('levels are reported for everyone every 200 ms', () => {
  const levels: Array<ReadonlyMap<string, number>> = [];
  const meeting = new Meeting(['a', 'b'], { onLevels: (l) => levels.push(l) });
  meeting.talk('a', FREQ.a);
  meeting.run(50);
  assert.is(levels.length, 5);
  const last = levels.at(-1)!;
  const expected = AMPLITUDE / Math.SQRT2 / 32768;
  assert.ok(Math.abs(last.get('a')! - expected) < 0.2 * expected, `a at ${last.get('a')}`);
  assert.is(last.get('b'), 0);
  meeting.mixer.close();
});

test('a participant who leaves is no longer mixed and close() is idempotent', () => {
  const meeting = new Meeting(['a', 'b', 'c']);
  meeting.talk('a', FREQ.a);
  meeting.talk('b', FREQ.b);
  meeting.run(20);
  meeting.mixer.removeParticipant('a');
  meeting.browsers.delete('a');
  meeting.run(40);
  assert.ok(meeting.amplitude('c', FREQ.a, 30) < ABSENT);
  assert.ok(meeting.amplitude('c', FREQ.b, 30) > HEARD);
  const ticks = meeting.mixer.counters.ticks;
  meeting.mixer.close();
  meeting.mixer.close();
  meeting.mixer.tick();
  assert.is(meeting.mixer.counters.ticks, ticks);
});

test.run();
