/** The part of @thaunknown/simple-peer (no bundled types) that P2PConnection uses. */
declare module '@thaunknown/simple-peer' {
  export interface SimplePeerOptions {
    initiator?: boolean;
    config?: RTCConfiguration;
    streams?: MediaStream[];
    trickle?: boolean;
    offerOptions?: RTCOfferOptions;
    channelName?: string;
    objectMode?: boolean;
  }
  export type SignalData = Record<string, unknown> & { type: string };
  export default class SimplePeer {
    constructor(options?: SimplePeerOptions);
    readonly connected: boolean;
    readonly destroyed: boolean;
    /** The underlying RTCPeerConnection (null once destroyed). */
    readonly _pc: RTCPeerConnection | null;
    signal(data: SignalData): void;
    send(data: string | ArrayBufferView | ArrayBuffer): void;
    destroy(error?: Error): void;
    on(event: 'signal', listener: (data: SignalData) => void): this;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'data', listener: (data: Uint8Array | string) => void): this;
    on(event: 'track', listener: (track: MediaStreamTrack, stream: MediaStream) => void): this;
    on(event: 'stream', listener: (stream: MediaStream) => void): this;
    on(event: 'error', listener: (error: Error & { code?: string }) => void): this;
  }
}
