/**
 * Mutated signaling messages for the fuzz test: start from a valid message of any client
 * type, then break it (wrong types and values, missing and unknown fields, huge strings,
 * deep nesting, ids of other meetings, broken SDP and ICE candidates), or send raw junk.
 * Everything comes from one seeded PRNG, so a seed reproduces a run exactly.
 */
import type { ClientMessageType } from '../../protocol/signaling';
import { prng } from './prng';


/** What the fuzzer may aim at: its own meeting, other meetings and their members. */
export interface FuzzTargets {
  ownMeetingId: string;
  foreignMeetingIds: string[];
  /** Members of the fuzzer's own meeting (valid signal targets). */
  peerIds: string[];
  /** Members of other meetings (must never be reachable). */
  foreignParticipantIds: string[];
}

const TYPES: ClientMessageType[] = ['join', 'leave', 'chat', 'media-state', 'signal', 'relay-offer', 'relay-candidate', 'relay-view', 'path-ready', 'path-failed'];

/** A Chrome-shaped offer: audio and video, with ICE and DTLS attributes (its mutations reach the relay's SDP parser). */
export const SAMPLE_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:fuzz',
  'a=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:4C:D3:B6:5F:E0:1E:5D:9C',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=ssrc:1111 cname:fuzz',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:fuzz',
  'a=ice-pwd:fuzzfuzzfuzzfuzzfuzzfuzz',
  'a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:4C:D3:B6:5F:E0:1E:5D:9C',
  'a=setup:actpass',
  'a=mid:1',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 nack pli',
  'a=ssrc:2222 cname:fuzz',
  '',
].join('\r\n');

const SAMPLE_CANDIDATE = 'candidate:842163049 1 udp 1677729535 127.0.0.1 50000 typ host generation 0 ufrag fuzz network-cost 999';

/** One fuzzer: `next()` yields the next frame to send. */
export class MessageFuzzer {
  private readonly random: () => number;
  private nextId = 1;

  constructor(
    seed: number,
    private readonly targets: FuzzTargets,
    /** Share of relay offers sent intact: each one starts a real ICE agent at the relay. */
    private readonly validOfferShare = 0,
  ) {
    this.random = prng(seed);
  }

  /** The next frame: usually a (mutated) message as JSON text, sometimes raw junk or binary. */
  next(): string | Buffer {
    const roll = this.random();
    if (roll < 0.05) return this.junk();
    const message = this.valid(this.pick(TYPES));
    // About one in eight stays valid so the handlers behind the validator are exercised too.
    const mutations = this.random() < 0.12 ? 0 : 1 + this.int(3);
    let value: unknown = message;
    for (let i = 0; i < mutations; i++) value = this.mutate(value);
    return JSON.stringify(value) ?? 'undefined';
  }

  private valid(type: ClientMessageType): Record<string, unknown> {
    const t = this.targets;
    switch (type) {
      case 'join':
        return { type, id: this.id(), meetingId: this.pick([t.ownMeetingId, ...t.foreignMeetingIds, this.str(12)]), name: this.str(1 + this.int(39)), ...(this.random() < 0.2 ? { creatorToken: this.str(43) } : {}), ...(this.random() < 0.2 ? { resumeToken: this.str(43) } : {}) };
      case 'leave':
        return { type };
      case 'chat':
        return { type, id: this.id(), messageId: this.str(1 + this.int(63)), text: this.str(1 + this.int(200)) };
      case 'media-state':
        return { type, audio: this.random() < 0.5, video: this.random() < 0.5, ...(this.random() < 0.5 ? { screen: this.random() < 0.5 } : {}) };
      case 'signal':
        return { type, to: this.pick([...t.peerIds, ...t.foreignParticipantIds, this.str(9)]), conn: this.str(1 + this.int(20)), data: this.peerSignal() };
      case 'relay-offer':
        return { type, id: this.id(), sdp: this.random() < this.validOfferShare ? SAMPLE_OFFER : this.brokenSdp() };
      case 'relay-candidate':
        return { type, candidate: { candidate: this.random() < 0.3 ? SAMPLE_CANDIDATE : this.brokenCandidate(), sdpMid: this.pick(['0', '1', '99', null]), sdpMLineIndex: this.pick([0, 1, 7, null]) } };
      case 'relay-view':
        return { type, slots: Array.from({ length: this.int(10) }, () => ({ mid: String(this.int(12)), width: this.int(2000), height: this.int(2000) })) };
      case 'path-ready':
      case 'path-failed':
        return { type, epoch: this.pick([0, 1, 2, this.int(1_000_000), Number.MAX_SAFE_INTEGER]) };
      case 'host-mute':
      case 'host-remove':
        return { type, id: this.id(), participantId: this.pick([...t.peerIds, ...t.foreignParticipantIds, this.str(9)]) };
      case 'host-record':
        return { type, id: this.id(), recording: this.random() < 0.5 };
      case 'host-lock':
        return { type, id: this.id(), locked: this.random() < 0.5 };
      case 'media-recovery':
        return { type, path: this.pick(['p2p', 'relay', 'x']), phase: this.pick(['restarting', 'recovered', 'y']) };
    }
  }

  private peerSignal(): Record<string, unknown> {
    switch (this.int(6)) {
      case 5:
        return { type: 'restart' };
      case 0:
        return { type: 'offer', sdp: this.brokenSdp() };
      case 1:
        return { type: 'answer', sdp: this.brokenSdp() };
      case 2:
        return { type: 'candidate', candidate: { candidate: this.brokenCandidate(), sdpMid: '0', sdpMLineIndex: 0 } };
      case 3:
        return { type: 'renegotiate', renegotiate: true };
      default:
        return { type: 'transceiverRequest', transceiverRequest: { kind: this.pick(['audio', 'video']), init: { direction: 'recvonly' } } };
    }
  }

  private mutate(value: unknown): unknown {
    switch (this.int(9)) {
      case 0:
        return this.setAt(value, this.anyValue());
      case 1:
        return this.deleteAt(value);
      case 2:
        return this.setAt(value, this.anyValue(), `x${this.int(100)}`); // an unknown field
      case 3:
        return this.setAt(value, this.huge());
      case 4:
        return this.setAt(value, this.deep());
      case 5:
        return this.setAt(value, this.pick(TYPES), 'type'); // another type's name on this body
      case 6:
        return this.setAt(value, this.pick([...this.targets.foreignMeetingIds, ...this.targets.foreignParticipantIds]));
      case 7:
        return this.setAt(value, this.brokenSdp());
      default:
        return this.setAt(value, this.brokenCandidate());
    }
  }

  /** Sets a field (an existing one picked at random, or `key`) somewhere in the tree. */
  private setAt(value: unknown, replacement: unknown, key?: string): unknown {
    if (typeof value !== 'object' || value === null) return replacement;
    const container = this.randomContainer(value);
    if (Array.isArray(container)) {
      container[container.length === 0 ? 0 : this.int(container.length)] = replacement;
    } else {
      const keys = Object.keys(container);
      const k = key ?? (keys.length > 0 ? this.pick(keys) : 'x');
      (container as Record<string, unknown>)[k] = replacement;
    }
    return value;
  }

  private deleteAt(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const container = this.randomContainer(value);
    if (!Array.isArray(container)) {
      const keys = Object.keys(container);
      if (keys.length > 0) delete (container as Record<string, unknown>)[this.pick(keys)];
    }
    return value;
  }

  /** The root or one of the objects/arrays inside it (not too deep: mutations stack). */
  private randomContainer(root: object): object {
    let node: object = root;
    for (let depth = 0; depth < 4 && this.random() < 0.5; depth++) {
      const children = Object.values(node).filter((v): v is object => typeof v === 'object' && v !== null);
      if (children.length === 0) break;
      node = this.pick(children);
    }
    return node;
  }

  private anyValue(): unknown {
    switch (this.int(12)) {
      case 0: return null;
      case 1: return this.random() < 0.5;
      case 2: return this.pick([0, -1, 1.5, -0, 2 ** 53, -(2 ** 63), 1e308, -1e-308]);
      case 3: return this.int(2 ** 31);
      case 4: return this.str(this.int(100));
      case 5: return this.pick(['', ' ', '\u0000', '\ud800', '👩‍💻'.repeat(20), '<script>alert(1)</script>', '../../etc/passwd', '__proto__', 'constructor']);
      case 6: return [];
      case 7: return {};
      case 8: return [this.anyValueShallow(), this.anyValueShallow()];
      case 9: return { type: this.pick(TYPES), id: this.id() };
      // JSON.parse makes `__proto__` an own key, as the server's JSON.parse would see it.
      case 10: return JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"polluted":true}}}') as unknown;
      default: return this.pick([...this.targets.peerIds, ...this.targets.foreignParticipantIds]);
    }
  }

  private anyValueShallow(): unknown {
    return this.pick([null, true, 7, 'x', [], {}]);
  }

  private huge(): string {
    // Mostly below the 64 KiB message limit (the validator's string caps), some above it,
    // a few beyond the socket's frame limit (256 KiB: the socket is closed).
    const length = this.pick([1_000, 5_000, 40_000, 70_000, this.random() < 0.02 ? 300_000 : 10_000]);
    return this.pick(['x', 'é', '\u0000', '🙂']).repeat(length);
  }

  private deep(): unknown {
    const depth = this.pick([20, 200, 2_000]);
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = this.random() < 0.5 ? [v] : { a: v };
    return v;
  }

  private brokenSdp(): string {
    const lines = SAMPLE_OFFER.split('\r\n');
    switch (this.int(8)) {
      case 0: return SAMPLE_OFFER.slice(0, this.int(SAMPLE_OFFER.length));
      case 1: return lines.filter(() => this.random() < 0.7).join('\r\n');
      case 2: return lines.map((l) => (this.random() < 0.1 ? l + ' ' + this.str(20) : l)).join('\r\n');
      case 3: return [...lines.slice(0, 7), ...Array.from({ length: 50 }, (_, i) => `m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:${i}`)].join('\r\n');
      case 4: return lines.map((l) => l.replace(/\d+/g, () => String(this.pick([-1, 0, 2 ** 32, 99999999999])))).join('\r\n');
      case 5: return this.str(1 + this.int(500));
      case 6: return 'v=0\r\n' + 'a='.repeat(this.int(2000));
      default: return lines.join('\n').replace('m=audio', 'm=bogus');
    }
  }

  private brokenCandidate(): string {
    return this.pick([
      '',
      'candidate:',
      'candidate:1 1 udp 99999999999 999.1.1.1 -1 typ host',
      'candidate:1 1 tcp 1 ::ffff:127.0.0.1 0 typ relay raddr x rport y',
      'candidate:1 1 udp 1 10.0.0.1 70000 typ srflx',
      SAMPLE_CANDIDATE.replace('127.0.0.1', '0.0.0.0'),
      SAMPLE_CANDIDATE + ' '.repeat(900),
      this.str(1 + this.int(300)),
    ]);
  }

  private junk(): string | Buffer {
    switch (this.int(6)) {
      case 0: return Buffer.from(Array.from({ length: 1 + this.int(200) }, () => this.int(256)));
      case 1: return JSON.stringify(this.valid(this.pick(TYPES))).slice(0, -1 - this.int(5));
      case 2: return this.pick(['null', '[]', '0', '"join"', 'true', '{}', '{"type":null}', '{"type":"__proto__"}', '{"type":"constructor"}', '{"type":"toString"}']);
      case 3: return '{"type":"join","id":1,"__proto__":{"meetingId":"x"}}';
      case 4: return '['.repeat(5_000) + ']'.repeat(5_000);
      default: return this.str(1 + this.int(100));
    }
  }

  private id(): number {
    return this.random() < 0.9 ? this.nextId++ : this.pick([-1, 1.5, 2 ** 53, 0]);
  }

  private str(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_ ÄéΩ中🙂';
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)] ?? 'x';
    return out;
  }

  private int(below: number): number {
    return Math.floor(this.random() * below);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}
