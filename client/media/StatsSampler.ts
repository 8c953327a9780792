/**
 * Turns `getStats()` reports of one RTCPeerConnection into a `PathStats` sample: the
 * selected candidate pair (transport, candidate types, addresses, RTT), bitrates and loss
 * as deltas since the previous sample, codecs, and per-video resolution and frame rate.
 */
import type { VideoSource } from '../../protocol/signaling';
import type { MediaPath, PathStats } from './MediaConnection';

type StatsRecord = RTCStats & Record<string, unknown>;

interface Totals {
  at: number;
  bytesSent: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** An audio stream's jitter-buffer totals (seconds summed over emitted samples, and their count). */
interface AudioBufferTotals {
  delay: number;
  target: number;
  emitted: number;
}

export class StatsSampler {
  private previous: Totals | null = null;
  private previousAudio = new Map<string, AudioBufferTotals>();

  constructor(private readonly path: MediaPath) {}

  /**
   * Samples `pc`. `participantForMid` names who a received video belongs to (P2P: the one
   * peer; relay: the slot table); `sourceForMid` whether a video (sent or received) on that
   * mid is a camera or a screen.
   */
  async sample(
    pc: RTCPeerConnection,
    participantForMid: (mid: string | undefined) => string | undefined,
    sourceForMid: (mid: string | undefined) => VideoSource = () => 'camera',
  ): Promise<PathStats> {
    const report = await pc.getStats();
    const byId = new Map<string, StatsRecord>();
    report.forEach((s: StatsRecord) => byId.set(s.id, s));

    const totals: Totals = { at: performance.now(), bytesSent: 0, bytesReceived: 0, packetsReceived: 0, packetsLost: 0 };
    const result: PathStats = {
      path: this.path,
      state: iceState(pc),
      loss: 0,
      inboundVideo: [],
      audioLevels: [],
      packetsReceived: 0,
    };

    const audioBuffers = new Map<string, AudioBufferTotals>();
    for (const s of byId.values()) {
      if (s.type === 'transport') {
        const pair = byId.get(String(s.selectedCandidatePairId ?? ''));
        if (pair) describePair(pair, byId, result);
      } else if (s.type === 'inbound-rtp') {
        totals.bytesReceived += num(s.bytesReceived);
        totals.packetsReceived += num(s.packetsReceived);
        totals.packetsLost += Math.max(0, num(s.packetsLost));
        const codec = str(byId.get(String(s.codecId ?? ''))?.mimeType);
        if (s.kind === 'audio') {
          result.audioCodec = codec ?? result.audioCodec;
          if (typeof s.jitter === 'number') result.jitterMs = Math.round(s.jitter * 1000);
          audioBuffers.set(s.id, { delay: num(s.jitterBufferDelay), target: num(s.jitterBufferTargetDelay), emitted: num(s.jitterBufferEmittedCount) });
          const speaker = participantForMid(str(s.mid));
          if (speaker && typeof s.audioLevel === 'number') result.audioLevels.push({ participantId: speaker, level: s.audioLevel });
        } else if (s.kind === 'video') {
          result.videoCodec = codec ?? result.videoCodec;
          const participantId = participantForMid(str(s.mid));
          if (participantId && num(s.frameWidth) > 0) {
            result.inboundVideo.push({
              participantId,
              source: sourceForMid(str(s.mid)),
              width: num(s.frameWidth),
              height: num(s.frameHeight),
              fps: Math.round(num(s.framesPerSecond)),
            });
          }
        }
      } else if (s.type === 'outbound-rtp') {
        totals.bytesSent += num(s.bytesSent);
        const codec = str(byId.get(String(s.codecId ?? ''))?.mimeType);
        if (s.kind === 'video') {
          result.videoCodec ??= codec;
          if (num(s.frameWidth) > 0) {
            const sent = { width: num(s.frameWidth), height: num(s.frameHeight), fps: Math.round(num(s.framesPerSecond)) };
            if (sourceForMid(str(s.mid)) === 'screen') result.outboundScreen = sent;
            else (result.outboundLayers ??= []).push(sent); // simulcast: one outbound-rtp per layer
          }
        } else if (s.kind === 'audio') {
          result.audioCodec ??= codec;
        }
      }
    }

    if (result.outboundLayers) {
      // A layer the encoder stopped keeps its last size but has no frame rate: only moving ones count, if any.
      const moving = result.outboundLayers.filter((l) => l.fps > 0);
      const layers = (moving.length > 0 ? moving : result.outboundLayers).sort((a, b) => a.width * a.height - b.width * b.height);
      result.outboundLayers = layers;
      result.outboundVideo = layers[layers.length - 1];
    }
    result.packetsReceived = totals.packetsReceived;
    const prev = this.previous;
    if (prev) {
      const seconds = Math.max(0.001, (totals.at - prev.at) / 1000);
      result.bitrateUp = Math.max(0, ((totals.bytesSent - prev.bytesSent) * 8) / seconds);
      result.bitrateDown = Math.max(0, ((totals.bytesReceived - prev.bytesReceived) * 8) / seconds);
      const received = totals.packetsReceived - prev.packetsReceived;
      const lost = totals.packetsLost - prev.packetsLost;
      result.loss = received + lost > 0 ? Math.max(0, lost) / (received + lost) : 0;
    }
    this.previous = totals;
    result.audioBuffer = audioBufferSince(this.previousAudio, audioBuffers);
    this.previousAudio = audioBuffers;
    return result;
  }
}

/**
 * The jitter-buffer delay and target of the audio played since the previous sample (the
 * totals' deltas over samples emitted), the largest over streams: what you hear waits that long.
 */
function audioBufferSince(previous: ReadonlyMap<string, AudioBufferTotals>, now: ReadonlyMap<string, AudioBufferTotals>): PathStats['audioBuffer'] {
  let worst: PathStats['audioBuffer'];
  for (const [id, t] of now) {
    const p = previous.get(id) ?? { delay: 0, target: 0, emitted: 0 };
    const emitted = t.emitted - p.emitted;
    if (emitted <= 0) continue;
    const delayMs = Math.round(((t.delay - p.delay) / emitted) * 1000);
    const targetMs = Math.round(((t.target - p.target) / emitted) * 1000);
    if (!worst || delayMs > worst.delayMs) worst = { delayMs, targetMs };
  }
  return worst;
}

function describePair(pair: StatsRecord, byId: Map<string, StatsRecord>, out: PathStats): void {
  const local = byId.get(String(pair.localCandidateId ?? ''));
  const remote = byId.get(String(pair.remoteCandidateId ?? ''));
  if (typeof pair.currentRoundTripTime === 'number') out.rttMs = Math.round(pair.currentRoundTripTime * 1000);
  if (local) {
    out.localCandidateType = str(local.candidateType);
    out.localAddress = address(local);
    out.transport = str(local.protocol);
    // A relayed local candidate reaches TURN over `relayProtocol`.
    if (local.candidateType === 'relay' && str(local.relayProtocol)) out.transport = `${str(local.protocol)} via TURN/${str(local.relayProtocol)}`;
  }
  if (remote) {
    out.remoteCandidateType = str(remote.candidateType);
    out.remoteAddress = address(remote);
  }
}

function address(candidate: StatsRecord): string | undefined {
  const ip = str(candidate.address) ?? str(candidate.ip);
  if (!ip) return undefined;
  return `${ip.includes(':') ? `[${ip}]` : ip}:${num(candidate.port)}`;
}

function iceState(pc: RTCPeerConnection): PathStats['state'] {
  switch (pc.connectionState) {
    case 'connected':
      return 'connected';
    case 'failed':
      return 'failed';
    case 'closed':
      return 'closed';
    case 'new':
      return 'new';
    default:
      return 'connecting';
  }
}

/** RTP packets received on `pc` so far, all streams together. */
export async function inboundPackets(pc: RTCPeerConnection): Promise<number> {
  let packets = 0;
  (await pc.getStats()).forEach((s: StatsRecord) => {
    if (s.type === 'inbound-rtp') packets += num(s.packetsReceived);
  });
  return packets;
}
