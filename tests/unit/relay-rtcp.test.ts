/** A viewer's RTCP as the relay reads it: keyframe requests (PLI/FIR by media SSRC), downlink feedback (transport-wide feedback, NACKs), and the per-publisher request throttle. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyframeThrottle, keyframeRequestTargets, nackedSequences, readTransportFeedback, receiverReport, senderReports, transportFeedbackPacket } from '../../relay/rtcp';
import { RetransmitHistory } from '../../relay/RetransmitHistory';

// ---------------------------------------------------------------- reading PLI / FIR
//
// Packets are written byte by byte from the RFCs (no RTCP library, whose reading could share
// the relay's mistakes) and read as the relay reads the decrypted compound SRTCP datagram
// libdatachannel hands a slot's track.

const VIEWER = 0x1111_1111; // the viewer's own sender SSRC (Chrome: one of its outgoing streams)
const SLOT_A = 0xaaaa_0001; // media SSRCs of two forwarded video slots
const SLOT_B = 0xbbbb_0002;

/** Big-endian 32-bit words. */
function words(...values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => buffer.writeUInt32BE(value >>> 0, i * 4));
  return buffer;
}

/** RTCP common header (RFC 3550 §6.4.1): V=2, P=0, count/FMT, packet type, length in words minus one. */
const header = (fmt: number, packetType: number, length: number) => ((2 << 30) | (fmt << 24) | (packetType << 16) | length) >>> 0;

/** PLI (RFC 4585 §6.3.1): PSFB (206), FMT 1, no FCI. */
const pli = (media: number) => words(header(1, 206, 2), VIEWER, media);

/** FIR (RFC 5104 §4.3.1): PSFB (206), FMT 4, media SSRC 0, one FCI entry (SSRC, seq nr, reserved) per target. */
const fir = (...targets: number[]) =>
  words(header(4, 206, 2 + 2 * targets.length), VIEWER, 0, ...targets.flatMap((ssrc, i) => [ssrc, (i + 7) << 24]));

/** Receiver report (RFC 3550 §6.4.2) with one report block about `source`. */
const rr = (source: number) => words(header(1, 201, 7), VIEWER, source, 0x0000_0003, 0x0001_2345, 17, 0, 0);

/** SDES (RFC 3550 §6.5) with one CNAME chunk "ab": SSRC, item (1, 2, "ab"), a null octet padded to a word. */
const sdes = () => Buffer.concat([words(header(1, 202, 3), VIEWER), Buffer.from([1, 2, 0x61, 0x62, 0, 0, 0, 0])]);

/** Generic NACK (RFC 4585 §6.2.1): RTPFB (205) with the same FMT number (1) as a PLI. */
const nack = (media: number) => words(header(1, 205, 3), VIEWER, media, (1234 << 16) | 0x0005);

/** REMB (draft-alvestrand-rmcat-remb): PSFB (206), FMT 15, application-layer feedback. */
const remb = (media: number) => words(header(15, 206, 5), VIEWER, 0, 0x52454d42, (1 << 24) | (10 << 18) | 5000, media);

/** SLI (RFC 4585 §6.3.2): PSFB (206), FMT 2, one FCI word. */
const sli = (media: number) => words(header(2, 206, 3), VIEWER, media, (0 << 19) | (1 << 6) | 1);

/** Every keyframe target named in one compound RTCP datagram, in order. */
function targetsOf(...packets: Buffer[]): number[] {
  return keyframeRequestTargets(Buffer.concat(packets));
}

test('a PLI names the media SSRC it asks a keyframe for, not its sender', () => {
  assert.equal(targetsOf(pli(SLOT_A)), [SLOT_A]);
});

test('a PLI is found inside a compound packet (RR, SDES, PLI)', () => {
  assert.equal(targetsOf(rr(SLOT_B), sdes(), pli(SLOT_A)), [SLOT_A]);
});

test('a FIR names the SSRCs of its FCI entries, not its own media SSRC (which is 0)', () => {
  assert.equal(targetsOf(fir(SLOT_A)), [SLOT_A]);
  assert.equal(targetsOf(rr(SLOT_A), sdes(), fir(SLOT_A, SLOT_B)), [SLOT_A, SLOT_B]);
});

test('a PLI and a FIR in one compound packet both count', () => {
  assert.equal(targetsOf(rr(SLOT_A), pli(SLOT_B), fir(SLOT_A)), [SLOT_B, SLOT_A]);
});

test('reports, SDES, NACK (RTPFB FMT 1) and REMB ask for no keyframe', () => {
  assert.equal(targetsOf(rr(SLOT_A)), []);
  assert.equal(targetsOf(sdes()), []);
  assert.equal(targetsOf(nack(SLOT_A)), [], 'a NACK shares FMT 1 with PLI but is transport-layer feedback');
  assert.equal(targetsOf(remb(SLOT_A)), [], 'REMB is payload-specific feedback too, FMT 15');
  assert.equal(targetsOf(rr(SLOT_A), sdes(), nack(SLOT_A), remb(SLOT_B)), []);
});

// A FIR's FCI entries end where its own length field says, not at the end of the datagram: a
// reader that took 8-byte entries up to the end would also "name" words of the packets after
// it (before a receiver report: its report block's source SSRC, a keyframe nobody asked for).
test('a FIR followed by other packets names only its own FCI entries', () => {
  assert.equal(targetsOf(fir(SLOT_A), rr(SLOT_B)), [SLOT_A]);
  assert.equal(targetsOf(fir(SLOT_A), pli(SLOT_B)), [SLOT_A, SLOT_B]);
  assert.equal(targetsOf(fir(SLOT_A, SLOT_B), sdes(), rr(SLOT_A)), [SLOT_A, SLOT_B]);
});

// A PSFB with an FMT other than PLI or FIR (SLI = 2, RPSI = 3, …) is no keyframe request.
test('other payload-specific feedback (SLI) asks for no keyframe', () => {
  assert.equal(targetsOf(sli(SLOT_A)), []);
  assert.equal(targetsOf(rr(SLOT_B), sli(SLOT_A), pli(SLOT_B)), [SLOT_B]);
});

test('a truncated or garbage datagram yields the requests framed before the damage, and never throws', () => {
  const whole = Buffer.concat([pli(SLOT_A), fir(SLOT_B)]);
  assert.equal(keyframeRequestTargets(whole.subarray(0, whole.length - 4)), [SLOT_A], 'the FIR runs past the end');
  assert.equal(keyframeRequestTargets(whole.subarray(0, 6)), [], 'a PLI cut inside its header');
  assert.equal(keyframeRequestTargets(Buffer.alloc(0)), []);
  const notRtcp = Buffer.concat([words(0x1234_5678), pli(SLOT_A)]);
  assert.equal(keyframeRequestTargets(notRtcp), [], 'version 0: nothing after it can be framed');
  const shortPli = words(header(1, 206, 1), VIEWER); // no room for the media SSRC
  assert.equal(keyframeRequestTargets(Buffer.concat([shortPli, pli(SLOT_B)])), [SLOT_B]);
  // Padding (RFC 3550 §6.4.1): the last byte counts the padding bytes, which hold no FCI entry.
  const padded = Buffer.concat([fir(SLOT_A), words(0, 8)]);
  padded.writeUInt16BE(padded.readUInt16BE(2) + 2, 2);
  padded[0] = padded[0]! | 0x20;
  assert.equal(keyframeRequestTargets(Buffer.concat([padded, pli(SLOT_B)])), [SLOT_A, SLOT_B]);
  for (let seed = 1; seed <= 200; seed++) {
    const random = Buffer.alloc(seed % 64, seed);
    for (let i = 0; i < random.length; i++) random[i] = (seed * 7919 + i * 104729) & 0xff;
    keyframeRequestTargets(random);
  }
});

// ---------------------------------------------------------------- downlink feedback

test('transport-wide feedback reads back as each sequence number with its arrival time, or NaN when lost', () => {
  // Arrivals in 250 µs ticks from a reference of 1000 × 64 ms: small, large and negative deltas, a loss, across the wrap.
  const deltas = [4, undefined, 300, 1, -8, 0];
  const packet = transportFeedbackPacket(VIEWER, SLOT_A, { baseSequence: 65_534, referenceTime: 1000, feedbackCount: 7, deltas });
  const seen: Array<[number, number]> = [];
  assert.is(readTransportFeedback(Buffer.concat([rr(SLOT_A), packet, sdes()]), (sequence, arrivalMs) => seen.push([sequence, arrivalMs])), 1);
  const base = 1000 * 64;
  assert.equal(seen, [[65_534, base + 1], [65_535, NaN], [0, base + 1 + 75], [1, base + 76.25], [2, base + 74.25], [3, base + 74.25]]);
  assert.is(readTransportFeedback(Buffer.concat([rr(SLOT_A), pli(SLOT_A)]), () => assert.unreachable('no feedback')), 0);
});

test('transport-wide feedback: a run of a thousand, and a packet cut short, read no further than they hold', () => {
  const run = Array.from({ length: 1000 }, () => 1);
  let n = 0;
  readTransportFeedback(transportFeedbackPacket(VIEWER, SLOT_A, { baseSequence: 5, referenceTime: 0, feedbackCount: 0, deltas: run }), () => (n += 1));
  assert.is(n, 1000);
  const cut = transportFeedbackPacket(VIEWER, SLOT_A, { baseSequence: 5, referenceTime: 0, feedbackCount: 0, deltas: [1, 1, 1, 1] });
  // Its length field says 8 more bytes than the datagram holds: not framed, nothing read.
  cut.writeUInt16BE(cut.readUInt16BE(2) + 2, 2);
  readTransportFeedback(cut, () => assert.unreachable('a packet running past the datagram'));
});

// ---------------------------------------------------------------- NACKs and their budget

test("the relay's own receiver report reads back as a browser would parse it", () => {
  const rr = receiverReport(1, [
    { ssrc: 0xdeadbeef, fractionLost: 0.25, cumulativeLost: 7, highestSequence: 0x1_0005, jitter: 90, lastSenderReport: 0x12345678, delaySinceLastSenderReport: 65536 },
    { ssrc: 42, fractionLost: 0, cumulativeLost: -3, highestSequence: 9, jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0 },
  ]);
  assert.is(rr[0]! & 0x1f, 2, 'two report blocks');
  assert.is(rr[1], 201);
  // Each block: SSRC, fraction lost (8 bits of 256ths), cumulative lost (24 bits), highest sequence, jitter, LSR, DLSR.
  assert.is(rr.readUInt32BE(8), 0xdeadbeef);
  assert.is(rr[12], 64, 'a quarter lost');
  assert.is(rr.readUIntBE(13, 3), 7);
  assert.is(rr.readUInt32BE(8 + 8), 0x1_0005);
  assert.is(rr.readUInt32BE(8 + 16), 0x12345678);
  assert.is(rr.readUInt32BE(8 + 24), 42);
  assert.is(rr.readUIntBE(8 + 24 + 5, 3), 0, 'negative cumulative loss is sent as 0');
});

test("a sender report's NTP middle bits are read for the LSR field", () => {
  const sr = Buffer.alloc(28);
  sr.writeUInt32BE(((2 << 30) | (200 << 16) | 6) >>> 0, 0);
  sr.writeUInt32BE(0xabc, 4);
  sr.writeUInt32BE(0x11223344, 8);
  sr.writeUInt32BE(0x55667788, 12);
  assert.equal(senderReports(sr), [{ ssrc: 0xabc, ntpMiddle: 0x33445566 }]);
});

test('a generic NACK names its PID and every BLP bit after it, for its own media SSRC only', () => {
  // PID 1234, BLP 0x0005: 1234, 1235 (bit 0) and 1237 (bit 2).
  assert.equal(nackedSequences(nack(SLOT_A), SLOT_A), [1234, 1235, 1237]);
  assert.equal(nackedSequences(nack(SLOT_A), SLOT_B), []);
  // Wraps at 65535; two FCI entries in one NACK; inside a compound datagram.
  const two = words(header(1, 205, 4), VIEWER, SLOT_B, (65535 << 16) | 0x0001, (10 << 16) | 0);
  assert.equal(nackedSequences(Buffer.concat([rr(SLOT_B), two, pli(SLOT_B)]), SLOT_B), [65535, 0, 10]);
});

test('NACKed packets are sent again once per round trip, and retransmissions stay within a quarter of what was sent', () => {
  const history = new RetransmitHistory();
  const resent: number[] = [];
  const resend = (seq: number) => (resent.push(seq), 1000);
  // A second of 100 packets of 1,000 bytes (800 kbit/s).
  for (let seq = 0; seq < 100; seq += 1) history.remember(seq, seq * 3000, false, Buffer.alloc(988), 0, 1000, seq * 10);
  history.answer([5, 6], 1000, resend);
  assert.equal(resent, [5, 6]);
  history.answer([5], 1050, resend);
  assert.equal(resent, [5, 6], 'not again within 100 ms');
  history.answer([5], 1150, resend);
  assert.equal(resent, [5, 6, 5]);
  // Everything NACKed at once: only about a quarter of the second's bytes go again.
  history.answer(Array.from({ length: 100 }, (_, i) => i), 1200, resend);
  assert.ok(resent.length <= 3 + 26 && resent.length >= 10, `${resent.length} resent`);
  assert.ok(history.refused > 60);
  // Forgotten packets (older than the ring) are not sent.
  history.answer([9999], 1300, resend);
  assert.not.ok(resent.includes(9999));
});

// ---------------------------------------------------------------- throttling
//
// KeyframeThrottle reads performance.now() and setTimeout directly (no clock to inject), so
// these tests run on the real clock: they wait for the sends themselves, and only wait for
// time to pass where the behaviour is about time passing.

const INTERVAL_MS = 40;
/**
 * Node schedules timers on libuv's whole-millisecond clock, so a deferred send may run up to
 * ~1 ms before `interval` has passed on performance.now().
 */
const TIMER_SLACK_MS = 2;

/** A throttle that records when it sends and lets a test await its next send. */
function recorder(intervalMs = INTERVAL_MS) {
  const sentAt: number[] = [];
  const waiters: Array<() => void> = [];
  const throttle = new KeyframeThrottle(intervalMs, () => {
    sentAt.push(performance.now());
    waiters.splice(0).forEach((wake) => wake());
  });
  const nextSend = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { throttle, sentAt, nextSend };
}

/** Resolves once `ms` have passed on performance.now() since `since`. */
async function untilElapsed(since: number, ms: number): Promise<void> {
  for (let left = ms; left > 0; left = since + ms - performance.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
  }
}

/** Lets every timer due now, and the callbacks they trigger, run (one full event-loop turn). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('the first keyframe request is sent at once', () => {
  const { throttle, sentAt } = recorder();
  throttle.request();
  assert.is(sentAt.length, 1);
  throttle.close();
});

test('requests inside the interval are coalesced into one send at the end of the interval', async () => {
  const { throttle, sentAt, nextSend } = recorder();
  throttle.request();
  const second = nextSend();
  throttle.request();
  throttle.request();
  throttle.request();
  assert.is(sentAt.length, 1, 'not sent again at once');
  await second;
  await settle();
  assert.is(sentAt.length, 2, 'three requests, one send');
  const gap = sentAt[1]! - sentAt[0]!;
  assert.ok(gap >= INTERVAL_MS - TIMER_SLACK_MS, `second send ${gap.toFixed(1)} ms after the first`);
  throttle.close();
});

test('a request that arrives just after a deferred send waits for a new interval', async () => {
  const { throttle, sentAt, nextSend } = recorder();
  throttle.request();
  const second = nextSend();
  throttle.request();
  await second;
  const third = nextSend();
  throttle.request();
  assert.is(sentAt.length, 2, 'the deferred send started a new interval');
  await third;
  const gap = sentAt[2]! - sentAt[1]!;
  assert.ok(gap >= INTERVAL_MS - TIMER_SLACK_MS, `third send ${gap.toFixed(1)} ms after the second`);
  throttle.close();
});

test('a request after a quiet interval is sent at once', async () => {
  const { throttle, sentAt } = recorder();
  throttle.request();
  await untilElapsed(sentAt[0]!, INTERVAL_MS);
  throttle.request();
  assert.is(sentAt.length, 2);
  throttle.close();
});

test('each publisher has its own throttle: a request to one never delays another', () => {
  const a = recorder();
  const b = recorder();
  a.throttle.request();
  b.throttle.request();
  a.throttle.request();
  assert.is(a.sentAt.length, 1);
  assert.is(b.sentAt.length, 1, 'B was sent at once despite A just having been asked');
  a.throttle.close();
  b.throttle.close();
});

test('close() cancels a pending request and ignores later ones; a second close() is harmless', async () => {
  const { throttle, sentAt } = recorder();
  throttle.request();
  throttle.request(); // pending until the interval ends
  throttle.close();
  throttle.request();
  throttle.close();
  await untilElapsed(sentAt[0]!, INTERVAL_MS + TIMER_SLACK_MS);
  await settle();
  assert.is(sentAt.length, 1, 'nothing sent after close()');
});

test.run();
