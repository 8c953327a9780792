/**
 * A bare video forwarder in a process of its own, for `bench/transport-cost.ts`: the same
 * job done by two transports, so their CPU per forwarded packet can be compared side by side.
 * - `werift`: our `MeetingRelay` (werift: ICE, DTLS and SRTP in JavaScript), audio mixing off;
 * - `datachannel`: node-datachannel (libdatachannel, libjuice, libsrtp: native), with the
 *   forwarding written the way a relay on it would do it: every publisher's camera packet is
 *   sent into one slot of every other participant, its SSRC rewritten to the slot's.
 *
 * Talks to its parent over IPC (`process.send`): offers in, answers and candidates out, and
 * its counters on request. Run only by the benchmark: `node --import tsx forwarderHost.ts <transport>`.
 */
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { MeetingRelay, type AudioSink } from '../../relay/MeetingRelay';

export type Transport = 'werift' | 'datachannel';

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

function weriftForwarder(): Forwarder {
  const relay = new MeetingRelay('transport-cost', noAudio, { hostAddresses: ['127.0.0.1'] });
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

/** One participant of the native forwarder: its connection, its camera, and its slots (each with its own SSRC). */
interface NativePeer {
  id: string;
  pc: PeerConnection;
  tracks: Track[];
  slots: Array<{ track: Track; ssrc: number; publisher: string | null }>;
}

function datachannelForwarder(): Forwarder {
  const peers = new Map<string, NativePeer>();
  let forwarded = 0;
  let received = 0;
  /** Each viewer's slot showing `publisher` (assigned on first use). */
  const slotOf = (viewer: NativePeer, publisher: string) => {
    let slot = viewer.slots.find((s) => s.publisher === publisher);
    if (!slot) {
      slot = viewer.slots.find((s) => s.publisher === null);
      if (slot) slot.publisher = publisher;
    }
    return slot;
  };
  const forward = (publisher: NativePeer, packet: Buffer) => {
    received += 1;
    for (const viewer of peers.values()) {
      if (viewer === publisher) continue;
      const slot = slotOf(viewer, publisher.id);
      if (!slot || !slot.track.isOpen()) continue;
      packet.writeUInt32BE(slot.ssrc, 8); // sendMessageBinary copies: the buffer can be rewritten for the next viewer
      if (slot.track.sendMessageBinary(packet)) forwarded += 1;
    }
  };
  return {
    async offer(id, sdp) {
      const pc = new nodeDataChannel.PeerConnection(`forwarder-${id}`, { iceServers: [], bindAddress: '127.0.0.1' });
      const peer: NativePeer = { id, pc, tracks: [], slots: [] };
      // Local tracks for the offer's m-lines, by mid, before the offer is applied: the answer takes them.
      const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
      for (const section of sections) {
        const mid = /a=mid:(\S+)/.exec(section)?.[1] ?? '';
        const direction = /a=(sendrecv|sendonly|recvonly|inactive)/.exec(section)?.[1];
        if (section.startsWith('m=audio')) {
          const audio = new nodeDataChannel.Audio(mid, 'RecvOnly');
          audio.addOpusCodec(111);
          peer.tracks.push(pc.addTrack(audio));
        } else if (direction === 'sendonly' || direction === 'sendrecv') {
          const camera = new nodeDataChannel.Video(mid, 'RecvOnly');
          camera.addVP8Codec(96);
          const track = pc.addTrack(camera);
          track.setMediaHandler(new nodeDataChannel.RtcpReceivingSession());
          track.onMessage((packet) => {
            if (packet.length > 12 && (packet[1]! < 192 || packet[1]! > 223)) forward(peer, packet);
          });
          peer.tracks.push(track);
        } else {
          const ssrc = (Math.random() * 2 ** 32) >>> 0;
          const slot = new nodeDataChannel.Video(mid, 'SendOnly');
          slot.addVP8Codec(96);
          slot.addSSRC(ssrc, 'forwarder', 'forwarder', `slot-${mid}`);
          const track = pc.addTrack(slot);
          peer.tracks.push(track);
          peer.slots.push({ track, ssrc, publisher: null });
        }
      }
      pc.onLocalCandidate((candidate, mid) => send({ type: 'candidate', peer: id, candidate, mid }));
      peers.set(id, peer);
      return new Promise<string>((resolve) => {
        pc.onLocalDescription((answer, type) => {
          if (type === 'answer') resolve(answer);
        });
        pc.setRemoteDescription(sdp, 'offer');
      });
    },
    candidate(id, candidate, mid) {
      try {
        peers.get(id)?.pc.addRemoteCandidate(candidate, mid);
      } catch {
        // unusable here (IPv6): another candidate will do
      }
    },
    stats: () => ({ forwarded, received }),
  };
}

const transport = process.argv[2] as Transport;
const forwarder = transport === 'werift' ? weriftForwarder() : transport === 'datachannel' ? datachannelForwarder() : undefined;
if (!forwarder) throw new Error(`unknown transport ${process.argv[2]} (werift | datachannel)`);
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
