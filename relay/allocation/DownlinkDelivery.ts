/**
 * When the relay's video reached one viewer, from the viewer's own transport-wide feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): every packet the relay sends the
 * viewer's slots carries a transport-wide sequence number, and the browser reports each one's
 * arrival time, or its loss, every 50–250 ms. Arrival against departure gives:
 * - the queueing delay: one-way delay above the smallest of the last 10 s (the two clocks'
 *   offset cancels out; only a queue makes a packet slower than the fastest). Read as the
 *   smallest of each feedback's packets, so that one packet held up by a busy machine is not
 *   taken for a queue — a queue holds up every packet behind it;
 * - what a span of packets delivered: their bytes over the time they took to arrive. Sent
 *   faster than the link carries, they arrive at the link's rate (packet-train dispersion, as
 *   libwebrtc's ProbeBitrateEstimator reads a probe cluster), slower than they were sent.
 * A probe's duplicates carry no number: the browser's SRTP replay check drops a second copy
 * before anything records its arrival, so it would read as lost. They still take their
 * share of the link, so the originals around them arrive late and slow just the same.
 * The allocation judges its probes by these (ViewerDownlink): a queue that grows while the
 * probe's packets arrive slower than they left fails it within a feedback interval, before
 * the queue overflows and pictures lose packets.
 */
import { readTransportFeedback } from '../rtcp';

/** Packets remembered (a power of two dividing 2^16): about 20 s at 400 packets a second. */
const HISTORY = 8192;
/** The baseline delay is the smallest over this many buckets of this length (10 s). */
const BASELINE_BUCKET_MS = 250;
const BASELINE_BUCKETS = 40;
/** Feedback minima remembered for `peakQueueMs`. */
const QUEUE_SAMPLES = 64;

const enum Fate { Unreported = 0, Received = 1, Lost = 2 }

/** What a span of sent packets came to, as far as the viewer has reported. */
export interface DeliveredSpan {
  sent: number;
  received: number;
  lost: number;
  /** Bits per second over the span's arrival time (the first packet's bytes excluded); undefined with fewer than `minPackets` received or under 20 ms of arrivals. */
  deliveredBps: number | undefined;
  /** The same packets' bits per second over the time they were sent in (the last packet's bytes excluded), when `deliveredBps` is defined. */
  sentBps: number | undefined;
}

export class DownlinkDelivery {
  private sequence = 0;
  private readonly numbers = new Int32Array(HISTORY).fill(-1);
  private readonly sentAt = new Float64Array(HISTORY);
  private readonly arrivedAt = new Float64Array(HISTORY);
  private readonly sizes = new Uint16Array(HISTORY);
  private readonly fates = new Uint8Array(HISTORY);
  /** The smallest one-way delay of the packets sent in each baseline bucket, and that bucket's number. */
  private readonly minDelay = new Float64Array(BASELINE_BUCKETS).fill(Infinity);
  private readonly minDelayBucket = new Float64Array(BASELINE_BUCKETS).fill(-1);
  /** Each feedback's smallest queueing delay and when it came, newest at `sampleAt - 1`. */
  private readonly queueSamples = new Float64Array(QUEUE_SAMPLES);
  private readonly queueSampleTimes = new Float64Array(QUEUE_SAMPLES).fill(-Infinity);
  private samples = 0;
  private feedbackMin = Infinity;
  private feedbackReceived = 0;

  /** Feedback packets read that reported an arrival. */
  get feedbacks(): number {
    return this.samples;
  }

  /** The transport-wide sequence number the next packet gets. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** Whether any feedback has come (a browser that sends none is judged by its NACKs alone). */
  get hasFeedback(): boolean {
    return this.samples > 0;
  }

  /** When the newest feedback came (ms, the relay's clock). */
  get lastFeedbackAt(): number {
    return this.samples > 0 ? this.queueSampleTimes[(this.samples - 1) % QUEUE_SAMPLES]! : -Infinity;
  }

  /** The queueing delay of the newest feedback's packets (ms, its smallest); 0 before any. */
  get queueMs(): number {
    return this.samples > 0 ? this.queueSamples[(this.samples - 1) % QUEUE_SAMPLES]! : 0;
  }

  /** The largest feedback queueing delay since `sinceMs` (0 when none came since). */
  peakQueueMs(sinceMs: number): number {
    let peak = 0;
    for (let k = 1; k <= Math.min(this.samples, QUEUE_SAMPLES); k += 1) {
      const i = (this.samples - k) % QUEUE_SAMPLES;
      if (this.queueSampleTimes[i]! < sinceMs) break;
      peak = Math.max(peak, this.queueSamples[i]!);
    }
    return peak;
  }

  /**
   * The smallest feedback queueing delay since `sinceMs`: a queue that stood the whole time
   * (every feedback's packets waited at least this long). 0 when fewer than `minSamples`
   * feedbacks came since.
   */
  lowestQueueMs(sinceMs: number, minSamples: number): number {
    let lowest = Infinity;
    let count = 0;
    for (let k = 1; k <= Math.min(this.samples, QUEUE_SAMPLES); k += 1) {
      const i = (this.samples - k) % QUEUE_SAMPLES;
      if (this.queueSampleTimes[i]! < sinceMs) break;
      lowest = Math.min(lowest, this.queueSamples[i]!);
      count += 1;
    }
    return count >= minSamples ? lowest : 0;
  }

  /** The transport-wide number of the first packet sent at or after `sinceMs` (as far back as remembered); `nextSequence` when none was. */
  sequenceSince(sinceMs: number): number {
    let first = this.sequence;
    for (let k = 1; k <= HISTORY; k += 1) {
      const sequence = (this.sequence - k) & 0xffff;
      const i = sequence & (HISTORY - 1);
      if (this.numbers[i] !== sequence || this.sentAt[i]! < sinceMs) break;
      first = sequence;
    }
    return first;
  }

  /** Numbers a packet of `size` bytes that goes out now; returns its transport-wide sequence number. */
  stamp(size: number, nowMs: number): number {
    const sequence = this.sequence;
    this.sequence = (sequence + 1) & 0xffff;
    const i = sequence & (HISTORY - 1);
    this.numbers[i] = sequence;
    this.sentAt[i] = nowMs;
    this.sizes[i] = Math.min(size, 0xffff);
    this.fates[i] = Fate.Unreported;
    return sequence;
  }

  /** Reads the transport-wide feedback in a datagram from the viewer; returns whether it held any. Reading the same feedback twice changes nothing. */
  onFeedback(datagram: Uint8Array, nowMs: number): boolean {
    this.feedbackMin = Infinity;
    this.feedbackReceived = 0;
    if (readTransportFeedback(datagram, this.onPacket) === 0) return false;
    if (this.feedbackReceived > 0) {
      const baseline = this.baseline();
      const i = this.samples % QUEUE_SAMPLES;
      this.queueSamples[i] = Math.max(0, this.feedbackMin - baseline);
      this.queueSampleTimes[i] = nowMs;
      this.samples += 1;
    }
    return true;
  }

  /**
   * What the packets numbered from `from` up to (not including) `to` came to: how many were
   * reported received or lost, and the rate they arrived at.
   */
  span(from: number, to: number, minPackets = 10): DeliveredSpan {
    const count = Math.min((to - from) & 0xffff, HISTORY);
    let received = 0;
    let lost = 0;
    let bytes = 0;
    let first = Infinity;
    let firstSize = 0;
    let last = -Infinity;
    let firstSent = Infinity;
    let lastSent = -Infinity;
    let lastSentSize = 0;
    for (let k = 0; k < count; k += 1) {
      const sequence = (from + k) & 0xffff;
      const i = sequence & (HISTORY - 1);
      if (this.numbers[i] !== sequence) continue;
      const fate = this.fates[i];
      if (fate === Fate.Lost) lost += 1;
      if (fate !== Fate.Received) continue;
      received += 1;
      bytes += this.sizes[i]!;
      const arrived = this.arrivedAt[i]!;
      if (arrived < first) {
        first = arrived;
        firstSize = this.sizes[i]!;
      }
      last = Math.max(last, arrived);
      firstSent = Math.min(firstSent, this.sentAt[i]!);
      if (this.sentAt[i]! >= lastSent) {
        lastSent = this.sentAt[i]!;
        lastSentSize = this.sizes[i]!;
      }
    }
    const duration = last - first;
    if (received < minPackets || duration < 20) return { sent: count, received, lost, deliveredBps: undefined, sentBps: undefined };
    const sentBps = lastSent > firstSent ? ((bytes - lastSentSize) * 8 * 1000) / (lastSent - firstSent) : undefined;
    return { sent: count, received, lost, deliveredBps: ((bytes - firstSize) * 8 * 1000) / duration, sentBps };
  }

  private readonly onPacket = (sequence: number, arrivalMs: number): void => {
    const i = sequence & (HISTORY - 1);
    if (this.numbers[i] !== sequence) return;
    if (Number.isNaN(arrivalMs)) {
      // A packet reported lost may still be reported received later (reordering); never the other way.
      if (this.fates[i] === Fate.Unreported) this.fates[i] = Fate.Lost;
      return;
    }
    this.fates[i] = Fate.Received;
    this.arrivedAt[i] = arrivalMs;
    const delay = arrivalMs - this.sentAt[i]!;
    this.feedbackMin = Math.min(this.feedbackMin, delay);
    this.feedbackReceived += 1;
    const bucket = Math.floor(this.sentAt[i]! / BASELINE_BUCKET_MS);
    const b = bucket % BASELINE_BUCKETS;
    if (this.minDelayBucket[b] !== bucket) {
      this.minDelayBucket[b] = bucket;
      this.minDelay[b] = delay;
    } else if (delay < this.minDelay[b]!) {
      this.minDelay[b] = delay;
    }
  };

  /** The smallest one-way delay of the packets sent in the last 10 s (of those reported). */
  private baseline(): number {
    let newest = -1;
    for (let b = 0; b < BASELINE_BUCKETS; b += 1) newest = Math.max(newest, this.minDelayBucket[b]!);
    let min = Infinity;
    for (let b = 0; b < BASELINE_BUCKETS; b += 1) {
      if (this.minDelayBucket[b]! > newest - BASELINE_BUCKETS) min = Math.min(min, this.minDelay[b]!);
    }
    return min;
  }
}
