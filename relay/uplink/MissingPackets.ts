/**
 * The packets of one publisher's stream that did not reach the relay, to be asked for again
 * (generic NACK, RFC 4585 §6.2.1; the browser resends them from its history). Without this,
 * a packet lost on a publisher's uplink is a hole every viewer sees: the relay never had it,
 * so it cannot answer their NACKs, and their pictures wait for a keyframe — over a slow
 * uplink, a long wait. A gap is asked for as soon as it shows (as libwebrtc's receiver
 * does), again every `RETRY_MS` while it stays open, at most `MAX_ASKS` times; a jump too
 * long to ask for is left to a keyframe request.
 */

/** A gap longer than this is not asked for packet by packet. */
const MAX_GAP = 100;
/** Missing packets remembered; beyond, the oldest are given up. */
const MAX_MISSING = 256;
/** Asked again after this long (a round trip and the resend, on a slow uplink). */
const RETRY_MS = 120;
const MAX_ASKS = 3;
/** Given up after this long: the picture it belongs to is past. */
const GIVE_UP_MS = 1000;
/** The list is looked through at most this often (it is asked on every packet). */
const CHECK_MS = 20;

const NONE: readonly number[] = [];

interface Missing {
  since: number;
  askedAt: number;
  asks: number;
}

export class MissingPackets {
  private newest: number | undefined;
  /** By sequence number, oldest first (a Map keeps insertion order). */
  private readonly missing = new Map<number, Missing>();
  private checkedAt = -Infinity;
  /** A gap opened since the list was last looked through. */
  private newGap = false;
  /** Packets asked for again, and of those, how many came, since `takeCounts`. */
  private asked = 0;
  private recovered = 0;

  /** A packet with `seq` arrived (media or padding). */
  arrived(seq: number, nowMs: number): void {
    if (this.newest === undefined) {
      this.newest = seq;
      return;
    }
    const ahead = (seq - this.newest) & 0xffff;
    if (ahead === 0) return;
    if (ahead >= 0x8000) {
      // Older than the newest: a late or resent packet.
      const entry = this.missing.get(seq);
      if (entry) {
        if (entry.asks > 0) this.recovered += 1;
        this.missing.delete(seq);
      }
      return;
    }
    const previous = this.newest;
    this.newest = seq;
    if (ahead === 1) return;
    if (ahead > MAX_GAP) {
      this.missing.clear();
      return;
    }
    for (let s = (previous + 1) & 0xffff; s !== seq; s = (s + 1) & 0xffff) this.missing.set(s, { since: nowMs, askedAt: -Infinity, asks: 0 });
    for (const key of this.missing.keys()) {
      if (this.missing.size <= MAX_MISSING) break;
      this.missing.delete(key);
    }
    this.newGap = true;
  }

  /** The sequence numbers to ask for now (each counted as asked); a new gap is due at once. */
  due(nowMs: number): readonly number[] {
    // Called on every packet: nothing is allocated unless something is due.
    if (this.missing.size === 0 || (!this.newGap && nowMs - this.checkedAt < CHECK_MS)) return NONE;
    const seqs: number[] = [];
    this.checkedAt = nowMs;
    this.newGap = false;
    for (const [seq, entry] of this.missing) {
      if (nowMs - entry.since > GIVE_UP_MS || entry.asks >= MAX_ASKS) {
        if (nowMs - entry.askedAt >= RETRY_MS) this.missing.delete(seq);
        continue;
      }
      if (nowMs - entry.askedAt < RETRY_MS) continue;
      entry.askedAt = nowMs;
      entry.asks += 1;
      this.asked += 1;
      seqs.push(seq);
    }
    return seqs;
  }


  /** Packets asked for again and packets that came after being asked for, since the last call. */
  takeCounts(): { asked: number; recovered: number } {
    const counts = { asked: this.asked, recovered: this.recovered };
    this.asked = 0;
    this.recovered = 0;
    return counts;
  }
}
