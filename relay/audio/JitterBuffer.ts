/**
 * A small reorder/jitter buffer for one talker's Opus packets, ordered by RTP sequence
 * number. It holds a couple of frames before playing a talkspurt so packets that arrive out
 * of order can be put back in order, then hands out exactly one slot per call to `pop()`:
 * the packet due, a gap to conceal, or nothing.
 *
 * Life of a talkspurt: idle → (first packet) buffering → (its start time, or depth
 * reached) playing → (buffer ran dry for `maxStarved` slots: the talker went silent, e.g.
 * Chrome's DTX) idle. A packet whose slot was already played or declared lost is too late
 * and is dropped; one that comes after its slot was concealed for lack of it still plays, a
 * frame later: the buffer grows by what the network needs, and only then.
 *
 * How long a talkspurt waits is the caller's to say (`push`'s `playAt`, from the measured
 * arrival jitter: ArrivalJitter); without one it waits `depth` slots. Either way it starts
 * at once when `depth` slots are already here.
 */
import { seqAdd, seqDiff, SEQ_MASK } from './SequenceNumber';

/** What to play for one 20 ms slot. */
export type JitterSlot =
  /** The packet due, in sequence order. */
  | { readonly kind: 'packet'; readonly seq: number; readonly payload: Uint8Array }
  /** The packet due is missing but later ones are here: it is lost, conceal it. */
  | { readonly kind: 'lost'; readonly seq: number }
  /** Mid-talkspurt and nothing buffered (a late or lost packet, or the talker stopped): conceal, the slot still waits. */
  | { readonly kind: 'starved'; readonly seq: number }
  /** Idle or still pre-buffering: nothing to play and nothing to conceal. */
  | { readonly kind: 'empty' };

/** What `push()` did with a packet. */
export type PushOutcome = 'queued' | 'late' | 'duplicate';

/** Where the buffer is in a talkspurt. */
export type JitterState = 'idle' | 'buffering' | 'playing';

/** Tuning; the defaults suit 20 ms packets. */
export interface JitterBufferOptions {
  /** Most slots held before a talkspurt starts playing (2 = 40 ms of reorder tolerance). */
  depth?: number;
  /** Most slots kept between the next to play and the newest; older ones are dropped as late. */
  maxSpan?: number;
  /** Starved slots handed out (to be concealed) before the talker counts as silent. */
  maxStarved?: number;
}

/** Cumulative counts, for the mixer's counters. */
export interface JitterStats {
  played: number;
  lost: number;
  starved: number;
  /** Arrived after their slot was played or concealed, or trimmed to bound latency. */
  late: number;
  duplicates: number;
}

/** A jump this large (20 s of packets) means the sender restarted its sequence: resync. */
const RESYNC_DISTANCE = 1000;

const EMPTY: JitterSlot = { kind: 'empty' };

/** Per-talker reorder buffer with loss detection and late-packet dropping. */
export class JitterBuffer {
  readonly stats: JitterStats = { played: 0, lost: 0, starved: 0, late: 0, duplicates: 0 };
  /** Slots held before a talkspurt starts playing. */
  readonly depth: number;
  private readonly maxSpan: number;
  private readonly maxStarved: number;
  private readonly packets = new Map<number, Uint8Array>();
  private phase: JitterState = 'idle';
  /** Next sequence number to play (buffering, playing). */
  private next = 0;
  /** Newest sequence number buffered (buffering, playing). */
  private newest = 0;
  /** Sequence number after the last packet actually played; anything older is late. */
  private floor: number | null = null;
  private waited = 0;
  private starvedRun = 0;
  /** When the talkspurt being buffered may start (undefined: after `depth` slots). */
  private playAt: number | undefined;

  constructor(options: JitterBufferOptions = {}) {
    this.depth = Math.max(1, options.depth ?? 2);
    this.maxSpan = Math.max(this.depth + 1, options.maxSpan ?? 6);
    this.maxStarved = Math.max(0, options.maxStarved ?? 3);
  }

  /** Current phase of the talkspurt. */
  get state(): JitterState {
    return this.phase;
  }

  /** Packets waiting to be played. */
  get size(): number {
    return this.packets.size;
  }

  /**
   * Files one packet by sequence number; says whether it was kept. `playAt` (the clock
   * `pop` is given) is when a talkspurt this packet starts may begin playing.
   */
  push(sequenceNumber: number, payload: Uint8Array, playAt?: number): PushOutcome {
    const seq = sequenceNumber & SEQ_MASK;
    if (this.phase === 'idle') {
      if (this.isBehindFloor(seq)) return this.dropLate();
      this.startTalkspurt(seq, payload, playAt);
      return 'queued';
    }
    const ahead = seqDiff(seq, this.next);
    if (ahead < 0) {
      // The first packets of a talkspurt may arrive swapped: still before playout, keep it.
      if (this.phase === 'buffering' && !this.isBehindFloor(seq) && -ahead < this.maxSpan) {
        if (this.packets.has(seq)) return this.dropDuplicate();
        this.packets.set(seq, payload);
        this.next = seq;
        return 'queued';
      }
      if (-ahead >= RESYNC_DISTANCE) {
        this.startTalkspurt(seq, payload, playAt);
        return 'queued';
      }
      return this.dropLate();
    }
    if (ahead >= RESYNC_DISTANCE) {
      this.startTalkspurt(seq, payload, playAt);
      return 'queued';
    }
    if (this.packets.has(seq)) return this.dropDuplicate();
    this.packets.set(seq, payload);
    if (seqDiff(seq, this.newest) > 0) this.newest = seq;
    this.trim();
    return 'queued';
  }

  /** Hands out the next slot; call once per 20 ms of audio needed (`now`: the clock of `playAt`). */
  pop(now?: number): JitterSlot {
    if (this.phase === 'idle') return EMPTY;
    if (this.phase === 'buffering') {
      this.waited += 1;
      const buffered = seqDiff(this.newest, this.next) + 1;
      // Start once `depth` slots are covered, or at the talkspurt's start time, or (no start
      // time) after waiting `depth` slots for a lone packet.
      const due = this.playAt !== undefined && now !== undefined ? now >= this.playAt : this.waited >= this.depth;
      if (buffered < this.depth && !due) return EMPTY;
      this.phase = 'playing';
      this.starvedRun = 0;
    }
    const seq = this.next;
    const payload = this.packets.get(seq);
    if (payload !== undefined) {
      this.packets.delete(seq);
      this.next = seqAdd(seq, 1);
      this.floor = this.next;
      this.starvedRun = 0;
      this.stats.played += 1;
      return { kind: 'packet', seq, payload };
    }
    if (this.packets.size > 0) {
      this.next = seqAdd(seq, 1);
      this.stats.lost += 1;
      return { kind: 'lost', seq };
    }
    if (this.starvedRun < this.maxStarved) {
      // Concealed, but the slot waits for its packet: one that is merely late still plays,
      // a frame later (the buffer grows by what the network needs); one that is lost is
      // declared so when a later packet comes.
      this.starvedRun += 1;
      this.stats.starved += 1;
      return { kind: 'starved', seq };
    }
    // Silent talker (DTX or stopped): the next packet starts a new talkspurt. `floor` stays
    // just after the last packet played, because with DTX the sender skips no numbers.
    this.phase = 'idle';
    return EMPTY;
  }

  /** Forgets everything, e.g. after an unmute; the next packet starts afresh. */
  reset(): void {
    this.packets.clear();
    this.phase = 'idle';
    this.floor = null;
    this.waited = 0;
    this.starvedRun = 0;
  }

  private startTalkspurt(seq: number, payload: Uint8Array, playAt: number | undefined): void {
    // Packets of an abandoned sequence (sender restart) will never play: count them late.
    this.stats.late += this.packets.size;
    this.packets.clear();
    this.packets.set(seq, payload);
    this.next = seq;
    this.newest = seq;
    this.waited = 0;
    this.playAt = playAt;
    this.phase = 'buffering';
  }

  /** True when `seq` was already played (a late or duplicate packet), not a restart. */
  private isBehindFloor(seq: number): boolean {
    if (this.floor === null) return false;
    const d = seqDiff(seq, this.floor);
    return d < 0 && -d < RESYNC_DISTANCE;
  }

  /** Bounds latency after a burst: slots too far behind the newest are given up. */
  private trim(): void {
    while (seqDiff(this.newest, this.next) >= this.maxSpan) {
      if (this.packets.delete(this.next)) this.stats.late += 1;
      this.next = seqAdd(this.next, 1);
    }
  }

  private dropLate(): PushOutcome {
    this.stats.late += 1;
    return 'late';
  }

  private dropDuplicate(): PushOutcome {
    this.stats.duplicates += 1;
    return 'duplicate';
  }
}
