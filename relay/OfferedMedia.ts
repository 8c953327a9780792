/**
 * What the relay reads of a client's offer SDP, m-line by m-line: kind, mid, direction, the
 * payload type of the one codec it takes (Opus, VP8), and the RTP streams a sending m-line
 * declares, so that each incoming SSRC is known for what it is (which layer) before the
 * first packet arrives.
 */

/** What the relay reads of one m-line of the client's offer. */
export interface OfferedMedia {
  kind: 'audio' | 'video';
  mid: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** The payload type the offer gives Opus (audio) or VP8 (video), if any. */
  payloadType: number | undefined;
  /**
   * The media SSRCs the m-line declares, lowest layer first: the `a=ssrc-group:SIM` order
   * when it has one (RFC 5576 §4.2 grouping, as libwebrtc writes simulcast), else every
   * declared SSRC that is not a repair stream (the second of an `FID` or `FEC-FR` pair).
   */
  ssrcs: number[];
  /** The header extensions it offers: URI → ID (RFC 8285 `a=extmap`). */
  extensions: Map<string, number>;
  /** The RTCP feedback it offers for that codec (`a=rtcp-fb:<pt>` or `:*`), e.g. `nack pli`, `transport-cc`. */
  feedback: Set<string>;
}

/** The m-lines of an SDP offer, in order. */
export function offeredMedia(sdp: string): OfferedMedia[] {
  return sdp
    .split(/\r?\n(?=m=)/)
    .slice(1)
    .map((section) => {
      const kind = section.startsWith('m=audio') ? 'audio' : 'video';
      const codec = kind === 'audio' ? 'opus' : 'VP8';
      const rtpmap = new RegExp(`^a=rtpmap:(\\d+) ${codec}/`, 'im').exec(section);
      const payloadType = rtpmap ? Number(rtpmap[1]) : undefined;
      return {
        kind,
        mid: /^a=mid:(\S+)/m.exec(section)?.[1] ?? '',
        direction: (/^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(section)?.[1] ?? 'sendrecv') as OfferedMedia['direction'],
        payloadType,
        ssrcs: declaredSsrcs(section),
        extensions: new Map([...section.matchAll(/^a=extmap:(\d+)(?:\/\w+)? (\S+)/gm)].map((m) => [m[2]!, Number(m[1])])),
        feedback: new Set([...section.matchAll(/^a=rtcp-fb:(\d+|\*) ([^\r\n]+?)\s*$/gm)].filter((m) => m[1] === '*' || Number(m[1]) === payloadType).map((m) => m[2]!)),
      };
    });
}

const ssrcNumber = (text: string): number | undefined => {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n <= 0xffff_ffff ? n : undefined;
};

/** The media SSRCs of one m-line section, lowest layer first (see `OfferedMedia.ssrcs`). */
function declaredSsrcs(section: string): number[] {
  const groups = [...section.matchAll(/^a=ssrc-group:(\S+)((?: \d+)+)\s*$/gm)].map((m) => ({
    semantics: m[1]!.toUpperCase(),
    ssrcs: m[2]!.trim().split(' ').map(ssrcNumber).filter((n): n is number => n !== undefined),
  }));
  const simulcast = groups.find((g) => g.semantics === 'SIM');
  if (simulcast) return simulcast.ssrcs;
  const repair = new Set(groups.filter((g) => g.semantics === 'FID' || g.semantics === 'FEC-FR').flatMap((g) => g.ssrcs.slice(1)));
  const declared = [...section.matchAll(/^a=ssrc:(\d+) /gm)].map((m) => ssrcNumber(m[1]!)).filter((n): n is number => n !== undefined);
  return [...new Set(declared)].filter((ssrc) => !repair.has(ssrc));
}
