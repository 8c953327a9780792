/**
 * The local camera and microphone. Tracks are acquired once and kept for the whole
 * meeting: turning a device off stops sending it (the paths replace the track with
 * null) but keeps the track, so turning it on again is instant, asks no new permission,
 * and a topology switch never re-acquires anything.
 */
import { signal } from '@preact/signals';
import type { LocalTracks } from './MediaConnection';

/** Capture size: `?video=320x240` overrides (tests keep video small on two cores). */
function videoConstraints(): MediaTrackConstraints {
  const match = /^(\d{2,4})x(\d{2,4})$/.exec(new URLSearchParams(location.search).get('video') ?? '');
  const [width, height] = match ? [Number(match[1]), Number(match[2])] : [640, 480];
  return { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30, max: 30 } };
}

export class LocalMedia {
  readonly audioOn = signal(false);
  readonly videoOn = signal(false);
  /** Self view (video only, so it never plays our own voice). */
  readonly preview = signal<MediaStream | null>(null);
  readonly problem = signal<string | null>(null);
  private audioTrack: MediaStreamTrack | null = null;
  private videoTrack: MediaStreamTrack | null = null;

  /** Asks for camera and microphone; falls back to whichever is available. */
  async acquire(): Promise<void> {
    const attempts: MediaStreamConstraints[] = [
      { audio: true, video: videoConstraints() },
      { audio: true, video: false },
      { audio: false, video: videoConstraints() },
    ];
    for (const constraints of attempts) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        this.audioTrack = stream.getAudioTracks()[0] ?? null;
        this.videoTrack = stream.getVideoTracks()[0] ?? null;
        break;
      } catch (err) {
        this.problem.value = describe(err);
      }
    }
    if (this.audioTrack || this.videoTrack) {
      if (!this.audioTrack) this.problem.value = 'No microphone available: others will not hear you.';
      else if (!this.videoTrack) this.problem.value = 'No camera available: others will not see you.';
      else this.problem.value = null;
    }
    this.audioOn.value = this.audioTrack !== null;
    this.videoOn.value = this.videoTrack !== null;
    this.preview.value = this.videoTrack ? new MediaStream([this.videoTrack]) : null;
  }

  get hasAudio(): boolean {
    return this.audioTrack !== null;
  }

  get hasVideo(): boolean {
    return this.videoTrack !== null;
  }

  setAudio(on: boolean): void {
    this.audioOn.value = on && this.audioTrack !== null;
  }

  setVideo(on: boolean): void {
    this.videoOn.value = on && this.videoTrack !== null;
  }

  /** What the paths should send right now. */
  tracks(): LocalTracks {
    return { audio: this.audioOn.value ? this.audioTrack : null, video: this.videoOn.value ? this.videoTrack : null };
  }

  /** Releases the devices (leaving the meeting). */
  close(): void {
    this.audioTrack?.stop();
    this.videoTrack?.stop();
    this.audioTrack = null;
    this.videoTrack = null;
    this.audioOn.value = false;
    this.videoOn.value = false;
    this.preview.value = null;
  }
}

function describe(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return 'Camera and microphone are blocked for this site. Allow them in the browser to be seen and heard.';
  if (name === 'NotFoundError') return 'No camera or microphone found.';
  if (!window.isSecureContext) return 'Camera and microphone need HTTPS (or localhost). See the README on HTTPS.';
  return 'Could not start the camera or microphone.';
}
