/**
 * Records VP8 for `harness/preEncoded.ts` in a process of its own: a wrtc (libwebrtc) peer
 * sends a scrolling picture to a node-datachannel peer, which hands over the RTP; the frames
 * go to the parent over IPC and the process ends.
 * Args: <width> <height> <fps> <seconds>.
 */
import wrtc from '@roamhq/wrtc';
import nodeDataChannel, { type Track } from 'node-datachannel';
import { cameraFrames } from '../harness/cameraFrames';
import { isVp8KeyframeStart } from '../../relay/vp8';
import type { RecordedPacket, RecordedVideo, RecordedVideoMessage } from '../harness/preEncoded';

/**
 * Records `seconds` of VP8 from libwebrtc's encoder: a wrtc peer sends a scrolling picture to a
 * node-datachannel peer, which hands over the RTP as it arrives. Takes about `seconds` + 1 s.
 */
async function recordVp8(width: number, height: number, fps: number, seconds: number): Promise<RecordedVideo> {
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  const sender = new wrtc.RTCPeerConnection({ iceServers: [] });
  const receiver = new nodeDataChannel.PeerConnection('vp8-recorder', { iceServers: [], bindAddress: '127.0.0.1' });
  const pictures = cameraFrames(width, height, 120, 16);
  const packets: Array<{ payload: Buffer; marker: boolean; timestamp: number }> = [];
  let keepTrack: Track | undefined;
  let vp8Type = -1;
  let timer: NodeJS.Timeout | undefined;
  try {
    receiver.onTrack((t) => {
      keepTrack = t; // a Track the script drops is destroyed, and its m-line with it
      t.setMediaHandler(new nodeDataChannel.RtcpReceivingSession()); // receiver reports, and the PLI below
      t.onMessage((message) => {
        const pt = message[1]! & 0x7f;
        if (message.length < 12 || pt !== vp8Type) return; // RTCP and other codecs
        const csrcs = message[0]! & 0x0f;
        let start = 12 + 4 * csrcs;
        if (message[0]! & 0x10) start += 4 + 4 * message.readUInt16BE(start + 2);
        const end = message.length - ((message[0]! & 0x20) ? message[message.length - 1]! : 0);
        packets.push({ payload: Buffer.from(message.subarray(start, end)), marker: (message[1]! & 0x80) !== 0, timestamp: message.readUInt32BE(4) });
      });
    });
    receiver.onLocalDescription((sdp, type) => {
      if (type === 'answer') void sender.setRemoteDescription({ type: 'answer', sdp: onlyPayloadType(sdp, vp8Type) });
    });
    receiver.onLocalCandidate((candidate, mid) => void sender.addIceCandidate({ candidate, sdpMid: mid }).catch(() => {}));
    sender.onicecandidate = (event) => {
      if (event.candidate?.candidate) receiver.addRemoteCandidate(event.candidate.candidate, event.candidate.sdpMid ?? '0');
    };
    sender.addTransceiver(track, { direction: 'sendonly' });
    const offer = await sender.createOffer();
    // libwebrtc offers VP8 first, and sends what the answer lists first.
    vp8Type = Number(/a=rtpmap:(\d+) VP8\/90000/i.exec(offer.sdp ?? '')?.[1] ?? -1);
    await sender.setLocalDescription(offer);
    receiver.setRemoteDescription(offer.sdp ?? '', 'offer');
    let frame = 0;
    timer = setInterval(() => source.onFrame(pictures[frame++ % pictures.length]!), 1000 / fps);
    // The encoder starts low while its bandwidth estimate ramps up: after a second, ask for a
    // keyframe and record from there.
    const keyframeAfter = (from: number) => packets.findIndex((p, i) => i >= from && isVp8KeyframeStart(p.payload));
    const spans = (k: number, s: number) => k >= 0 && packets[packets.length - 1]!.timestamp - packets[k]!.timestamp >= s * 90_000;
    const deadline = Date.now() + 15_000 + seconds * 1000;
    let k = -1;
    let asked = -1;
    while (Date.now() < deadline) {
      const first = keyframeAfter(0);
      if (asked < 0 && spans(first, 1)) {
        asked = packets.length;
        keepTrack?.requestKeyframe();
      }
      k = asked < 0 ? -1 : keyframeAfter(asked);
      if (spans(k, seconds)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!spans(k, seconds)) throw new Error(`no ${seconds} s of VP8 after a keyframe (${packets.length} packets; sender ${sender.connectionState}, receiver ${receiver.state()}, VP8 type ${vp8Type})`);
    return { width, height, fps, frames: groupFrames(packets.slice(k), seconds) };
  } finally {
    if (timer) clearInterval(timer);
    track.stop();
    sender.close();
    keepTrack?.close();
    receiver.close();
  }
}

/** What a browser's camera sends at 320×240 once its bandwidth estimate settled (kbit/s). */
const CAMERA_KBPS = 450;

/**
 * The answer with `payloadType` as the only video format (no RED/FEC wrapping, no RTX, no
 * other codec), and the encoder told to start and stay near a browser camera's bitrate
 * (libwebrtc's `x-google-*-bitrate`): the receiver sends no bandwidth feedback to ramp it up.
 */
function onlyPayloadType(sdp: string, payloadType: number): string {
  const other = (line: string) => {
    const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(line)?.[1];
    return pt !== undefined && Number(pt) !== payloadType;
  };
  const bitrate = `x-google-start-bitrate=${CAMERA_KBPS};x-google-min-bitrate=${CAMERA_KBPS - 100};x-google-max-bitrate=${CAMERA_KBPS + 100}`;
  return sdp
    .split('\r\n')
    .filter((line) => !other(line) && !line.startsWith('a=ssrc-group') && !line.startsWith(`a=fmtp:${payloadType} `))
    .flatMap((line) => {
      if (line.startsWith('m=video')) return [line.replace(/(SAVPF) .*/, `$1 ${payloadType}`)];
      if (line.startsWith(`a=rtpmap:${payloadType} `)) return [line, `a=fmtp:${payloadType} ${bitrate}`];
      return [line];
    })
    .join('\r\n');
}

/** Cuts the packets into whole frames (a marker ends one) spanning `seconds`. */
function groupFrames(packets: Array<{ payload: Buffer; marker: boolean; timestamp: number }>, seconds: number): RecordedPacket[][] {
  const base = packets[0]!.timestamp;
  const frames: RecordedPacket[][] = [];
  let current: RecordedPacket[] = [];
  for (const p of packets) {
    const timestampOffset = (p.timestamp - base) >>> 0;
    if (timestampOffset >= seconds * 90_000) break;
    current.push({ payload: p.payload, marker: p.marker, timestampOffset, keyframeStart: isVp8KeyframeStart(p.payload) });
    if (p.marker) {
      frames.push(current);
      current = [];
    }
  }
  return frames;
}

const [width, height, fps, seconds] = process.argv.slice(2).map(Number) as [number, number, number, number];
try {
  const video = await recordVp8(width, height, fps, seconds);
  const message: RecordedVideoMessage = { ...video, frames: video.frames.map((frame) => frame.map((p) => ({ ...p, payload: p.payload.toString('base64') }))) };
  process.send?.(message, () => process.exit(0));
} catch (err) {
  process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
}
