/**
 * The relay forwarding video in a process of its own, for `bench/transport-cost.ts`: our
 * `MeetingRelay` (audio mixing off) on one transport — `werift` (ICE, DTLS and SRTP in
 * JavaScript) or `datachannel` (node-datachannel: libdatachannel, libjuice, libsrtp, native)
 * — so their CPU per forwarded packet can be compared side by side.
 *
 * Talks to its parent over IPC (`process.send`): offers in, answers and candidates out, and
 * its counters on request. Run only by the benchmark: `node --import tsx forwarderHost.ts <transport>`.
 */
import { MeetingRelay, type AudioSink } from '../../relay/MeetingRelay';
import { isRelayTransport, type RelayTransport } from '../../relay/types';

export type Transport = RelayTransport;

export type ToHost =
  | { type: 'offer'; peer: string; sdp: string; publisher: boolean }
  | { type: 'candidate'; peer: string; candidate: string; mid: string }
  | { type: 'stats' };

export type FromHost =
  | { type: 'ready' }
  | { type: 'answer'; peer: string; sdp: string }
  | { type: 'candidate'; peer: string; candidate: string; mid: string }
  | { type: 'stats'; forwarded: number; received: number }
  | { type: 'failed'; peer: string; message: string };

interface Forwarder {
  offer(peer: string, sdp: string, publisher: boolean): Promise<string>;
  candidate(peer: string, candidate: string, mid: string): void;
  stats(): { forwarded: number; received: number };
}

const send = (message: FromHost) => process.send?.(message);

/** Audio is not part of this comparison: the relay's mixer gets nothing to do. */
const noAudio: AudioSink = { addParticipant() {}, removeParticipant() {}, pushPacket() {}, setMuted() {} };

function relayForwarder(transport: Transport): Forwarder {
  const relay = new MeetingRelay('transport-cost', noAudio, { hostAddresses: ['127.0.0.1'], transport });
  relay.on('candidate', (peer, c) => send({ type: 'candidate', peer, candidate: c.candidate, mid: c.sdpMid ?? '0' }));
  return {
    async offer(peer, sdp, publisher) {
      const answer = await relay.handleOffer(peer, sdp);
      relay.setPublishing(peer, { audio: false, video: publisher });
      return answer;
    },
    candidate(peer, candidate, mid) {
      void relay.addCandidate(peer, { candidate, sdpMid: mid, sdpMLineIndex: 0 }).catch(() => undefined);
    },
    stats() {
      const c = relay.counters();
      return { forwarded: c.packetsForwarded, received: c.packetsReceived };
    },
  };
}

const transport = process.argv[2];
if (!isRelayTransport(transport)) throw new Error(`unknown transport ${process.argv[2]} (werift | datachannel)`);
const forwarder = relayForwarder(transport);
process.on('message', (message: ToHost) => {
  if (message.type === 'offer') {
    forwarder.offer(message.peer, message.sdp, message.publisher).then(
      (sdp) => send({ type: 'answer', peer: message.peer, sdp }),
      (err: unknown) => send({ type: 'failed', peer: message.peer, message: err instanceof Error ? err.message : String(err) }),
    );
  } else if (message.type === 'candidate') {
    forwarder.candidate(message.peer, message.candidate, message.mid);
  } else if (message.type === 'stats') {
    send({ type: 'stats', ...forwarder.stats() });
  }
});
// The parent going away ends the host (IPC closes).
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
