/**
 * Simulcast toward the relay, Chromium only: the camera goes out as N layers of one picture
 * at 1/2^(N−1) … 1/2, 1 of the capture size, lowest first, so the relay can forward each
 * viewer the layer its tile and downlink want without re-encoding.
 *
 * The relay (libdatachannel) routes incoming RTP only by the SSRCs an offer declares, so
 * rid-based simulcast (`a=simulcast` + RTP stream ids) cannot reach it. This uses libwebrtc's
 * "legacy" simulcast instead: the offer's camera m-section declares N fresh SSRCs in an
 * `a=ssrc-group:SIM` (RFC 5576 grouping, lowest layer first) before `setLocalDescription`,
 * and the same SDP goes to the relay; `setParameters` then sets each layer's scale and cap.
 * Firefox and other browsers publish one layer (the offer as the browser wrote it).
 */

/**
 * How many layers libwebrtc actually sends for a capture size. It keeps at most as many
 * layers as its simulcast table allows for the picture's pixel count (the legacy layer
 * limit: 960×540 and up 3, 480×270 and up 2, below 1) and drops the TOP ones, so asking
 * for more would lose the full-size picture. Measured in headless Chromium 156 (fake
 * camera): 320×240 with 2 layers sends only 160×120; 640×480 with 3 sends 160×120 and
 * 320×240 only, with 2 sends 320×240 and 640×480; 960×540 with 3 sends all three.
 */
export function simulcastLayersFor(width: number, height: number): number {
  const pixels = width * height;
  if (pixels >= 960 * 540) return 3;
  if (pixels >= 480 * 270) return 2;
  return 1;
}

/** Whether this browser publishes simulcast to the relay: Chromium-based browsers only. */
export function canSimulcast(userAgent: string = navigator.userAgent): boolean {
  // Firefox first: its UA never says Chrome, but be explicit (it keeps its one-layer path).
  if (userAgent.includes('Firefox')) return false;
  return /(Chrome|Chromium)\/\d+/.test(userAgent);
}

/** A nonzero 32-bit SSRC. */
function randomSsrc(): number {
  const [value] = crypto.getRandomValues(new Uint32Array(1));
  return value === 0 || value === undefined ? 1 : value;
}

/**
 * Rewrites the `mLineIndex`-th m-section (0-based) of `sdp` to declare `ssrcs` as one
 * simulcast group, lowest layer first, each with the section's original cname and msid.
 * Its `a=ssrc-group:FID` (RTX) and `a=ssrc:` lines go: the layers are sent without RTX
 * (libwebrtc then retransmits on the media SSRC). Returns null when the section declares
 * no cname to reuse (nothing to rewrite): the caller sends one layer.
 */
export function declareSimulcast(sdp: string, mLineIndex: number, ssrcs: readonly number[]): string | null {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const [session, ...sections] = sdp.split(new RegExp(`${eol}(?=m=)`));
  const section = sections[mLineIndex];
  if (session === undefined || section === undefined) return null;
  const cname = /^a=ssrc:\d+ cname:(\S+)/m.exec(section)?.[1];
  if (!cname) return null;
  const msid = /^a=ssrc:\d+ msid:([^\r\n]+)/m.exec(section)?.[1];
  const kept = section.split(eol).filter((line) => line !== '' && !line.startsWith('a=ssrc:') && !line.startsWith('a=ssrc-group:'));
  const declared = [`a=ssrc-group:SIM ${ssrcs.join(' ')}`];
  for (const ssrc of ssrcs) {
    declared.push(`a=ssrc:${ssrc} cname:${cname}`);
    if (msid) declared.push(`a=ssrc:${ssrc} msid:${msid}`);
  }
  sections[mLineIndex] = [...kept, ...declared].join(eol);
  const last = sections.length - 1;
  // The SDP ends with a line break; a rewritten last section must too.
  if (mLineIndex === last && !sections[last]!.endsWith(eol)) sections[last] += eol;
  return [session, ...sections].join(eol);
}

/** `count` distinct fresh SSRCs. */
export function freshSsrcs(count: number, random: () => number = randomSsrc): number[] {
  const ssrcs = new Set<number>();
  while (ssrcs.size < count) ssrcs.add(random());
  return [...ssrcs];
}

/**
 * The cap of one layer, from its picture size and whether it is the top one. The top layer:
 * 150 kbit/s at 160×120 growing as pixels^0.75 (1.2 Mbit/s at 640×480, 1.8 Mbit/s at
 * 960×540) — libwebrtc's own simulcast defaults cap 640×480 at 700 kbit/s, visibly softer
 * than the one-layer stream P2P sends. The layers below exist for viewers whose downlink is
 * tight, so they are kept lean — 45 kbit/s at 160×120 growing as pixels^0.6 (≈ 103 kbit/s at
 * 320×240, as lean as Proton Meet's 180p layer), at most `LOWER_LAYER_FPS` — so that three of
 * them, with the mix and the packets' headers, fit in well under half of what three top
 * layers take even when a camera's picture compresses well (the fake camera's top layer uses
 * ≈ 390 of its 1,200 kbit/s: at 126 kbit/s, three low layers and the mix needed ≈ 480 of a
 * weak viewer's 434–509 at 40%, and one camera of three was paused whenever the cap was
 * under ≈ 500; bench/weak-viewer.ts).
 */
export function layerMaxBitrate(width: number, height: number, top: boolean): number {
  const ratio = Math.max(1, width * height) / (160 * 120);
  return Math.round(top ? 150_000 * ratio ** 0.75 : 45_000 * ratio ** 0.6);
}

/** The frame rate of the layers below the top: smooth enough (the floor is 10 fps), and a quarter fewer bits than 20 fps. */
export const LOWER_LAYER_FPS = 15;

/**
 * Sets the camera sender's layers after `setLocalDescription`: layer i of n is scaled down
 * by 2^(n−1−i) and capped by `layerMaxBitrate` of its size. Resolves to the encodings set,
 * or null when the browser did not take the simulcast offer (fewer encodings than layers).
 */
export async function applySimulcastEncodings(
  sender: RTCRtpSender,
  layers: number,
  capture: { width: number; height: number },
): Promise<RTCRtpEncodingParameters[] | null> {
  const params = sender.getParameters();
  if (params.encodings.length !== layers) return null;
  params.encodings.forEach((encoding, i) => {
    const scale = 2 ** (layers - 1 - i);
    encoding.scaleResolutionDownBy = scale;
    const top = i === layers - 1;
    encoding.maxBitrate = layerMaxBitrate(capture.width / scale, capture.height / scale, top);
    if (!top) encoding.maxFramerate = LOWER_LAYER_FPS;
    encoding.active = true;
  });
  await sender.setParameters(params);
  return params.encodings;
}

/**
 * Turns the camera sender's layers on and off as the relay asks (`relay-camera-layers`: the
 * layers nobody watches go off, and the browser stops encoding them). Resolves to whether
 * the sender took it: false when its layers are not the ones asked about.
 */
export async function setLayersActive(sender: RTCRtpSender, active: readonly boolean[]): Promise<boolean> {
  const params = sender.getParameters();
  // A sender with no encodings yet (no track, or a browser that lists none) sends everything: nothing to turn off is nothing to do.
  if (params.encodings.length === 0 && active.every(Boolean)) return true;
  if (params.encodings.length !== active.length) return false;
  if (params.encodings.every((encoding, i) => encoding.active === active[i])) return true;
  params.encodings.forEach((encoding, i) => {
    encoding.active = active[i]!;
  });
  await sender.setParameters(params);
  return true;
}
