/** Codec facts the relay reads off RTP payloads: Opus packet duration (RFC 6716) and VP8 keyframe starts (RFC 7741). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Decoder, Encoder } from '@evan/opus';
import { OPUS_CLOCK_RATE, opusPacketSamples } from '../../relay/opus';
import { isVp8KeyframeStart } from '../../relay/vp8';

// ---------------------------------------------------------------- Opus (RFC 6716 §3.1)

/** Frame duration in ms of each TOC config, straight from RFC 6716 Table 2. */
const CONFIG_FRAME_MS: number[] = [
  ...[10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 40, 60], // 0–11 SILK-only NB/MB/WB
  ...[10, 20, 10, 20], // 12–15 Hybrid SWB/FB
  ...[2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20], // 16–31 CELT-only NB/WB/SWB/FB
];

/** A TOC byte: config (5 bits), stereo flag, frame-count code (2 bits). */
const toc = (config: number, code: number, stereo = false) => (config << 3) | (stereo ? 0x04 : 0) | code;

/** Real Opus packets of `ms` milliseconds from libopus, with the decoder's own reading of their duration. */
function encoded(ms: number, tune: (encoder: Encoder) => void = () => {}): { packet: Uint8Array; decodedSamples: number } {
  const encoder = new Encoder({ channels: 1, sample_rate: 48_000, application: 'voip' });
  tune(encoder);
  const decoder = new Decoder({ channels: 1, sample_rate: 48_000 });
  const samples = ms * 48;
  let packet: Uint8Array = new Uint8Array();
  // A few frames of a tone, so the encoder has settled on its mode by the last one.
  for (let k = 0; k < 4; k++) {
    const pcm = new Int16Array(samples);
    for (let i = 0; i < samples; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * (k * samples + i)) / 48_000));
    packet = encoder.encode(pcm);
    decoder.decode(packet);
  }
  return { packet, decodedSamples: decoder.last_packet_duration };
}

test('Opus runs its RTP clock at 48 kHz', () => {
  assert.is(OPUS_CLOCK_RATE, 48_000);
});

test('a 20 ms mono frame from the encoder lasts 960 samples', () => {
  const { packet, decodedSamples } = encoded(20);
  assert.is(opusPacketSamples(packet), 960);
  assert.is(decodedSamples, 960, 'the decoder agrees');
});

test('real packets of 2.5 to 120 ms in SILK, Hybrid and CELT modes last what libopus says they last', () => {
  const seen = { codes: new Set<number>(), modes: new Set<string>() };
  const tunings: Array<[string, (encoder: Encoder) => void]> = [
    ['default', () => {}],
    ['narrowband voice (SILK)', (e) => { e.bitrate = 12_000; e.signal = 'voice'; e.bandwidth = 'narrowband'; }],
    ['wideband voice (SILK)', (e) => { e.bitrate = 16_000; e.signal = 'voice'; e.bandwidth = 'wideband'; }],
    ['fullband voice (Hybrid)', (e) => { e.bitrate = 24_000; e.signal = 'voice'; e.bandwidth = 'fullband'; }],
    ['music (CELT)', (e) => { e.bitrate = 64_000; e.signal = 'music'; }],
  ];
  for (const [name, tune] of tunings) {
    for (const ms of [2.5, 5, 10, 20, 40, 60, 80, 100, 120]) {
      const { packet, decodedSamples } = encoded(ms, tune);
      const config = packet[0]! >> 3;
      assert.is(opusPacketSamples(packet), ms * 48, `${name}, ${ms} ms (config ${config}, code ${packet[0]! & 3})`);
      assert.is(decodedSamples, ms * 48, `${name}, ${ms} ms: the decoder agrees`);
      seen.codes.add(packet[0]! & 3);
      seen.modes.add(config < 12 ? 'SILK' : config < 16 ? 'Hybrid' : 'CELT');
    }
  }
  // Guards the sweep itself: if libopus stopped producing some framing, this test would cover less than it claims.
  assert.equal([...seen.codes].sort(), [0, 1, 2, 3]);
  assert.equal([...seen.modes].sort(), ['CELT', 'Hybrid', 'SILK']);
});

test('a DTX packet (the TOC byte alone) still lasts its frame', () => {
  const encoder = new Encoder({ channels: 1, sample_rate: 48_000, application: 'voip' });
  encoder.dtx = true;
  let packet: Uint8Array = new Uint8Array();
  for (let k = 0; k < 30 && packet.length !== 1; k++) packet = encoder.encode(new Int16Array(960));
  assert.is(packet.length, 1, 'libopus sends 1-byte packets in DTX');
  assert.is(opusPacketSamples(packet), 960);
});

test('code 0: one frame, for every TOC config (RFC 6716 Table 2), mono or stereo', () => {
  for (let config = 0; config < 32; config++) {
    for (const stereo of [false, true]) {
      const packet = new Uint8Array([toc(config, 0, stereo), 0xaa, 0xbb]);
      assert.is(opusPacketSamples(packet), CONFIG_FRAME_MS[config]! * 48, `config ${config}`);
    }
  }
});

test('codes 1 and 2: two frames, for every TOC config', () => {
  for (let config = 0; config < 32; config++) {
    const code1 = new Uint8Array([toc(config, 1), 0x11, 0x22]); // two 1-byte CBR frames
    const code2 = new Uint8Array([toc(config, 2), 1, 0x11, 0x22]); // first frame 1 byte, second the rest
    assert.is(opusPacketSamples(code1), 2 * CONFIG_FRAME_MS[config]! * 48, `config ${config}, code 1`);
    assert.is(opusPacketSamples(code2), 2 * CONFIG_FRAME_MS[config]! * 48, `config ${config}, code 2`);
  }
});

test('code 3: the frame count M comes from the second byte, ignoring its VBR and padding flags', () => {
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 3])), 3 * 960);
  assert.is(opusPacketSamples(new Uint8Array([toc(1, 3), 2])), 2 * 960, 'SILK 20 ms × 2');
  // VBR with 1 byte of padding: lengths 1, 0, 0 for the first three frames, the last frame empty.
  const vbrPadded = [toc(31, 3), 0x80 | 0x40 | 4, 1, 1, 0, 0, 0xaa, 0x00];
  assert.is(opusPacketSamples(new Uint8Array(vbrPadded)), 4 * 960, 'v and p bits set');
  assert.is(opusPacketSamples(new Uint8Array([toc(16, 3), 48])), 48 * 120, '48 × 2.5 ms = 120 ms, the most allowed');
  assert.is(opusPacketSamples(new Uint8Array([toc(3, 3), 2])), 2 * 2880, '2 × 60 ms = 120 ms');
});

test('code 3 over 120 ms, with zero frames, or without its count byte is malformed (undefined)', () => {
  assert.is(opusPacketSamples(new Uint8Array([toc(16, 3), 49])), undefined, '49 × 2.5 ms (RFC 6716 R5)');
  assert.is(opusPacketSamples(new Uint8Array([toc(3, 3), 3])), undefined, '3 × 60 ms');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 63])), undefined, '63 × 20 ms');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0])), undefined, 'M = 0');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0xc0])), undefined, 'M = 0 with flags set');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3)])), undefined, 'count byte missing');
});

test('an empty packet has no duration (undefined)', () => {
  assert.is(opusPacketSamples(new Uint8Array()), undefined);
});

test('the duration is read from the view, not from the start of its buffer', () => {
  const buffer = new Uint8Array([toc(31, 3), 5, toc(30, 0), 0xaa]);
  assert.is(opusPacketSamples(buffer.subarray(2)), 480);
});

// RFC 6716 §3.4 lists what makes a packet malformed; a client's packet is untrusted input.
test('code 1 and code 2 packets that break RFC 6716 R3/R4 are malformed (undefined)', () => {
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 1), 0x11])), undefined, 'code 1, 1 payload byte for two equal frames (R3)');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 2)])), undefined, 'code 2 without the first frame length (R4)');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 2), 200, 0x11])), undefined, 'code 2, first frame longer than the packet (R4)');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 2), 252])), undefined, 'code 2, two-byte length cut short');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 2), 252, 1, ...new Array(256).fill(0)])), 2 * 960, 'code 2, two-byte length 4·1 + 252 = 256');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 2), 252, 1, ...new Array(255).fill(0)])), undefined, 'code 2, 255 bytes for a 256-byte first frame');
});

test('frames over 1275 bytes are malformed (RFC 6716 R2)', () => {
  assert.is(opusPacketSamples(new Uint8Array(1 + 1275)), 480, 'code 0, config 0 (10 ms SILK), 1275 bytes');
  assert.is(opusPacketSamples(new Uint8Array(1 + 1276)), undefined, 'code 0, 1276 bytes');
  assert.is(opusPacketSamples(new Uint8Array(1 + 2 * 1276).fill(toc(31, 1), 0, 1)), undefined, 'code 1, two 1276-byte frames');
});

test('code 3 padding and frame lengths must fit the packet (RFC 6716 R6/R7)', () => {
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 2, 0xaa, 0xbb])), 2 * 960, 'CBR, two 1-byte frames');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 2, 0xaa, 0xbb, 0xcc])), undefined, 'CBR, 3 bytes for 2 equal frames (R6)');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x40 | 2, 1, 0xaa, 0xbb, 0])), 2 * 960, 'CBR with 1 byte of padding');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x40 | 2, 9, 0xaa, 0xbb])), undefined, 'padding longer than the packet');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x40 | 2])), undefined, 'padding length missing');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x80 | 3, 1, 2, 0xaa, 0xbb, 0xcc, 0xdd])), 3 * 960, 'VBR, frames of 1, 2 and 1 bytes');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x80 | 3, 1])), undefined, 'VBR, a frame length missing (R7)');
  assert.is(opusPacketSamples(new Uint8Array([toc(31, 3), 0x80 | 3, 1, 9, 0xaa])), undefined, 'VBR, frames longer than the packet (R7)');
});

// ---------------------------------------------------------------- VP8 (RFC 7741 §4.2–4.3)
//
// Payload descriptor, first byte:  X R N S R PID(3)    X=0x80 N=0x20 S=0x10
// Extension byte (when X):         I L T K RSV(4)      I=0x80 L=0x40 T=0x20 K=0x10
// PictureID (when I):              M + 7 bits, or M + 15 bits (2 bytes) when M=0x80
// TL0PICIDX (when L):              1 byte
// TID|Y|KEYIDX (when T or K):      1 byte
// VP8 payload header, first byte:  Size0(3) H VER(3) P    P=0 keyframe, P=1 interframe

/** First three bytes of a VP8 keyframe (P=0, show_frame) followed by the keyframe start code. */
const KEY = [0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a];
/** First bytes of a VP8 interframe (P=1). */
const INTER = [0x31, 0x0b, 0x00, 0x11, 0x22];
const bytes = (...parts: Array<number | number[]>) => new Uint8Array(parts.flat());

test('a keyframe start with the minimal descriptor (S=1, PID=0) is a keyframe', () => {
  assert.is(isVp8KeyframeStart(bytes(0x10, KEY)), true);
  assert.is(isVp8KeyframeStart(bytes(0x10 | 0x20, KEY)), true, 'the N (non-reference) bit does not matter');
});

test('an interframe start (P=1) is not a keyframe', () => {
  assert.is(isVp8KeyframeStart(bytes(0x10, INTER)), false);
});

test('packets that do not start partition 0 are not keyframe starts, whatever their first payload byte', () => {
  // Continuation of partition 0 (S=0): its first byte is frame data, here one with bit 0 clear.
  assert.is(isVp8KeyframeStart(bytes(0x00, KEY)), false, 'S=0, PID=0');
  assert.is(isVp8KeyframeStart(bytes(0x00, 0x02, 0x04)), false, 'S=0 with even frame data');
  // Start of a later DCT partition (S=1, PID=1..7): no VP8 payload header here.
  for (let pid = 1; pid < 8; pid++) assert.is(isVp8KeyframeStart(bytes(0x10 | pid, KEY)), false, `S=1, PID=${pid}`);
  assert.is(isVp8KeyframeStart(bytes(0x80 | 0x01, 0x80, 0x05, KEY)), false, 'extended, S=0, PID=1');
});

test('with X set and a 7-bit PictureID, the P bit is read after the PictureID', () => {
  // PictureIDs chosen so that reading the wrong byte would flip the answer.
  assert.is(isVp8KeyframeStart(bytes(0x90, 0x80, 0x05, KEY)), true, 'odd PictureID, keyframe');
  assert.is(isVp8KeyframeStart(bytes(0x90, 0x80, 0x06, INTER)), false, 'even PictureID, interframe');
});

test('with a 15-bit PictureID (M=1), the P bit is read two bytes later', () => {
  assert.is(isVp8KeyframeStart(bytes(0x90, 0x80, 0x81, 0x23, KEY)), true, 'second PictureID byte odd, keyframe');
  assert.is(isVp8KeyframeStart(bytes(0x90, 0x80, 0x80, 0x24, INTER)), false, 'second PictureID byte even, interframe');
});

test('every combination of I, L, T and K is skipped correctly', () => {
  for (let ext = 0; ext < 16; ext++) {
    const i = (ext & 8) !== 0;
    const l = (ext & 4) !== 0;
    const t = (ext & 2) !== 0;
    const k = (ext & 1) !== 0;
    const flags = (i ? 0x80 : 0) | (l ? 0x40 : 0) | (t ? 0x20 : 0) | (k ? 0x10 : 0);
    for (const longPictureId of [false, true]) {
      if (longPictureId && !i) continue;
      // Every optional byte is even, so a parser that stops one byte short sees "keyframe" on an interframe.
      const optional = [
        ...(i ? (longPictureId ? [0x82, 0x34] : [0x12]) : []),
        ...(l ? [0x56] : []),
        ...(t || k ? [0x40 | 0x20 | 0x02] : []), // TID=1, Y=1, KEYIDX=2
      ];
      const name = `I=${+i} L=${+l} T=${+t} K=${+k}${longPictureId ? ' (15-bit PictureID)' : ''}`;
      assert.is(isVp8KeyframeStart(bytes(0x90, flags, optional, KEY)), true, `${name}, keyframe`);
      assert.is(isVp8KeyframeStart(bytes(0x90, flags, optional, INTER)), false, `${name}, interframe`);
      // Reserved bits in the extension byte carry no fields.
      assert.is(isVp8KeyframeStart(bytes(0x90, flags | 0x0f, optional, KEY)), true, `${name}, RSV bits set`);
    }
  }
});

test('truncated payloads are never keyframe starts', () => {
  const truncated: Array<[string, Uint8Array]> = [
    ['empty', bytes()],
    ['descriptor only', bytes(0x10)],
    ['X set, extension byte missing', bytes(0x90)],
    ['I set, PictureID missing', bytes(0x90, 0x80)],
    ['15-bit PictureID cut after its first byte', bytes(0x90, 0x80, 0x80)],
    ['PictureID present, VP8 header missing', bytes(0x90, 0x80, 0x12)],
    ['L set, TL0PICIDX missing', bytes(0x90, 0xc0, 0x12)],
    ['T set, TID byte missing', bytes(0x90, 0xe0, 0x12, 0x56)],
    ['K set, KEYIDX byte missing', bytes(0x90, 0x10)],
    ['all fields, VP8 header missing', bytes(0x90, 0xf0, 0x82, 0x34, 0x56, 0x62)],
  ];
  for (const [name, payload] of truncated) assert.is(isVp8KeyframeStart(payload), false, name);
});

test('the descriptor is read from the view, not from the start of its buffer', () => {
  const buffer = bytes(0x00, 0x31, 0x10, KEY);
  assert.is(isVp8KeyframeStart(buffer.subarray(2)), true);
});

test.run();
