/**
 * Checks on what a client hands the relay (offer SDP, ICE candidates) before libdatachannel
 * sees it: garbage must be refused inside the call that brought it, with a reason, and absurd
 * input (hundreds of m-lines, each a native track) never built. A failed check is a reason
 * string; the caller turns it into a coded `RelayError`.
 */
import { isIP } from 'node:net';

/** An offer is one signaling frame at most (64 KiB); this leaves room for the JSON around it. */
export const MAX_OFFER_BYTES = 64 * 1024;
/** Mic, camera, the video slots, and room to grow (screen share); a client never needs more. */
export const MAX_OFFER_M_LINES = 32;

/** Why an offer SDP is not worth handing to the WebRTC stack, or undefined when it may be. */
export function offerProblem(sdp: unknown): string | undefined {
  if (typeof sdp !== 'string') return 'not a string';
  if (sdp.length === 0) return 'empty';
  if (sdp.length > MAX_OFFER_BYTES) return `longer than ${MAX_OFFER_BYTES} characters`;
  // RFC 8866 §5: a session description starts with "v=0" and is made of "<type>=<value>" lines.
  if (!/^v=0\r?\n/.test(sdp)) return 'does not start with v=0';
  const lines = sdp.split(/\r?\n/).filter((line) => line.length > 0);
  const bad = lines.find((line) => !/^[a-z]=[\x20-\x7e\t]*$/.test(line));
  if (bad !== undefined) return `malformed line ${JSON.stringify(bad.slice(0, 40))}`;
  const mLines = lines.filter((line) => line.startsWith('m=')).length;
  if (mLines === 0) return 'no media';
  if (mLines > MAX_OFFER_M_LINES) return `${mLines} m-lines (at most ${MAX_OFFER_M_LINES})`;
  return undefined;
}

/**
 * Why a candidate line is unusable, or undefined when it may be added. Checks the fixed part
 * of RFC 8839 §5.1 (foundation, component, transport, priority, address, port, "typ", type):
 * a port of 99999 or "x" must never reach a socket.
 * An empty line (end of candidates) passes; the caller skips it.
 */
export function candidateProblem(line: unknown): string | undefined {
  if (typeof line !== 'string') return 'not a string';
  if (line === '') return undefined;
  if (line.length > 1024) return 'longer than 1024 characters';
  const bits = line.replace(/^(a=)?candidate:/, '').split(' ');
  if (bits.length < 8) return 'too few fields';
  const [foundation, component, transport, priority, address, port, typ, type] = bits as [string, string, string, string, string, string, string, string];
  if (!/^[A-Za-z0-9+/]{1,32}$/.test(foundation)) return 'bad foundation';
  if (!/^\d{1,3}$/.test(component) || Number(component) < 1 || Number(component) > 256) return 'bad component';
  if (!/^(udp|tcp)$/i.test(transport)) return `unsupported transport ${JSON.stringify(transport.slice(0, 10))}`;
  if (!/^\d{1,10}$/.test(priority) || Number(priority) > 0xffff_ffff) return 'bad priority';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return 'bad port';
  if (typ !== 'typ' || !/^(host|srflx|prflx|relay)$/.test(type)) return 'bad candidate type';
  if (isIP(address) === 0 && !/^[A-Za-z0-9-]{1,63}\.local$/.test(address)) return 'address is neither an IP nor an mDNS name';
  if (unusableAddress(address)) return `unusable address ${address}`;
  return undefined;
}

/** Addresses no peer can have: unspecified, broadcast, multicast (sending there fails or floods). */
function unusableAddress(address: string): boolean {
  if (isIP(address) === 4) {
    const first = Number(address.split('.')[0]);
    return first === 0 || first >= 224; // 0/8, 224/4 multicast, 240/4 reserved and broadcast
  }
  if (isIP(address) === 6) {
    const lower = address.toLowerCase();
    return lower === '::' || lower.startsWith('ff');
  }
  return false;
}
