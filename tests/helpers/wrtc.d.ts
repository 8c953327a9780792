/**
 * Minimal types for the parts of @roamhq/wrtc the tests use. The package ships its own
 * declarations, but their `nonstandard` half leaves event handlers untyped (an undefined
 * `EventHandler`, i.e. `any`); this ambient module takes precedence over them.
 */
declare module '@roamhq/wrtc' {
  /** An I420 frame: Y plane (width × height), then U and V (each a quarter of that). */
  export interface RTCVideoFrame {
    width: number;
    height: number;
    data: Uint8Array;
    rotation?: number;
  }

  /** 16-bit PCM; one call carries exactly 10 ms. */
  export interface RTCAudioData {
    samples: Int16Array;
    sampleRate: number;
    bitsPerSample?: number;
    channelCount?: number;
    numberOfFrames?: number;
  }

  export interface RTCVideoSource {
    createTrack(): MediaStreamTrack;
    onFrame(frame: RTCVideoFrame): void;
  }

  export interface RTCVideoSink {
    onframe: ((event: { frame: RTCVideoFrame }) => void) | null;
    stop(): void;
  }

  export interface RTCAudioSource {
    createTrack(): MediaStreamTrack;
    onData(data: RTCAudioData): void;
  }

  export interface RTCAudioSink {
    ondata: ((data: RTCAudioData) => void) | null;
    stop(): void;
  }

  export interface Nonstandard {
    RTCVideoSource: new () => RTCVideoSource;
    RTCVideoSink: new (track: MediaStreamTrack) => RTCVideoSink;
    RTCAudioSource: new () => RTCAudioSource;
    RTCAudioSink: new (track: MediaStreamTrack) => RTCAudioSink;
  }

  /** libwebrtc's RTCPeerConnection, close enough to the DOM's to share its type. */
  const wrtc: {
    RTCPeerConnection: typeof globalThis.RTCPeerConnection;
    nonstandard: Nonstandard;
  };
  export default wrtc;
}
