/**
 * The local camera and microphone, and a shared screen. Tracks are acquired once and kept for the whole
 * meeting: turning a device off stops sending it (the paths replace the track with
 * null) but keeps the track, so turning it on again is instant, asks no new permission,
 * and a topology switch never re-acquires anything. Choosing another device opens only
 * that kind, and a device that goes away (unplugged) is replaced by another of its kind;
 * either way the new track reaches the paths with `replaceTrack`, never a renegotiation.
 * A screen is different: it is captured when sharing starts and released when it stops
 * (by our button or the browser's own "Stop sharing", which ends the track).
 */
import { signal } from '@preact/signals';
import { storage } from '../storage';
import type { LocalTracks } from './MediaConnection';

/** Which local track: the microphone's or the camera's. */
export type TrackKind = 'audio' | 'video';

/** One device a user can pick (an option of a device `<select>`). */
export interface DeviceOption {
  deviceId: string;
  label: string;
}

/** The devices of each kind this browser has now. */
export interface DeviceLists {
  camera: DeviceOption[];
  microphone: DeviceOption[];
  speaker: DeviceOption[];
}

const NO_DEVICES: DeviceLists = { camera: [], microphone: [], speaker: [] };
const INPUT_KIND: Record<TrackKind, MediaDeviceKind> = { audio: 'audioinput', video: 'videoinput' };
const WORD: Record<TrackKind, string> = { audio: 'microphone', video: 'camera' };

/** Capture size: `?video=320x240` overrides (tests keep video small on two cores). */
function videoConstraints(): MediaTrackConstraints {
  const match = /^(\d{2,4})x(\d{2,4})$/.exec(new URLSearchParams(location.search).get('video') ?? '');
  const [width, height] = match ? [Number(match[1]), Number(match[2])] : [640, 480];
  return { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30, max: 30 } };
}

/** True when this browser can capture a screen (desktop browsers; not phones). */
export function canShareScreen(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
}

/**
 * Screen capture: up to full HD at 15 fps (slides and text need pixels, not motion);
 * `?screen=WxH` caps the size lower (tests keep video small on two cores).
 */
function screenConstraints(): MediaTrackConstraints {
  const match = /^(\d{2,4})x(\d{2,4})$/.exec(new URLSearchParams(location.search).get('screen') ?? '');
  const [width, height] = match ? [Number(match[1]), Number(match[2])] : [1920, 1080];
  return { width: { max: width }, height: { max: height }, frameRate: { ideal: 15, max: 15 } };
}

/** Constraints for one kind; a remembered device is only `ideal` at the start (it may be gone). */
function constraintsFor(kind: TrackKind, deviceId: string | undefined, exact: boolean): MediaTrackConstraints | boolean {
  const base = kind === 'video' ? videoConstraints() : {};
  if (!deviceId) return kind === 'video' ? base : true;
  return { ...base, deviceId: exact ? { exact: deviceId } : { ideal: deviceId } };
}

/** True when the browser can choose where audio plays (`HTMLMediaElement.setSinkId`). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

export class LocalMedia {
  readonly audioOn = signal(false);
  readonly videoOn = signal(false);
  /** Self view (video only, so it never plays our own voice). */
  readonly preview = signal<MediaStream | null>(null);
  readonly problem = signal<string | null>(null);
  /** The devices there are to choose from (labels once permission is granted). */
  readonly devices = signal<DeviceLists>(NO_DEVICES);
  /** The deviceId each track comes from (null: no track of that kind). */
  readonly inUse = signal<Record<TrackKind, string | null>>({ audio: null, video: null });
  /** Where remote audio plays: a deviceId, '' for the system default. */
  readonly speaker = signal<string>(storage.device('audiooutput') ?? '');
  /** Sharing a screen now. */
  readonly screenOn = signal(false);
  /** Own view of the shared screen. */
  readonly screenPreview = signal<MediaStream | null>(null);
  /** Called when a track was replaced or lost, or a share started or stopped, so the paths send the new one. */
  onTracksChanged: (() => void) | null = null;
  private audioTrack: MediaStreamTrack | null = null;
  private videoTrack: MediaStreamTrack | null = null;
  private screenTrack: MediaStreamTrack | null = null;
  /** Device changes run one at a time: a switch and an unplug racing would leak a track. */
  private queue: Promise<void> = Promise.resolve();
  private listening = false;
  private closed = false;

  /** Asks for camera and microphone (the ones chosen last, if still there); falls back to whichever is available. */
  async acquire(): Promise<void> {
    const audio = constraintsFor('audio', storage.device('audioinput'), false);
    const video = constraintsFor('video', storage.device('videoinput'), false);
    const attempts: MediaStreamConstraints[] = [{ audio, video }, { audio, video: false }, { audio: false, video }];
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
    if (this.closed) {
      this.audioTrack?.stop();
      this.videoTrack?.stop();
      this.audioTrack = this.videoTrack = null;
      return;
    }
    if (this.audioTrack || this.videoTrack) {
      if (!this.audioTrack) this.problem.value = 'No microphone available: others will not hear you.';
      else if (!this.videoTrack) this.problem.value = 'No camera available: others will not see you.';
      else this.problem.value = null;
    }
    this.audioTrack?.addEventListener('ended', this.onEnded);
    this.videoTrack?.addEventListener('ended', this.onEnded);
    this.audioOn.value = this.audioTrack !== null;
    this.videoOn.value = this.videoTrack !== null;
    this.preview.value = this.videoTrack ? new MediaStream([this.videoTrack]) : null;
    navigator.mediaDevices.addEventListener('devicechange', this.onDeviceChange);
    this.listening = true;
    const lists = await this.refreshDevices();
    this.inUse.value = { audio: this.initialDevice('audio', lists), video: this.initialDevice('video', lists) };
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

  /** The camera's capture size (also while it is off); null without a camera or before it reports one. */
  cameraSize(): { width: number; height: number } | null {
    const { width, height } = this.videoTrack?.getSettings() ?? {};
    return width && height ? { width, height } : null;
  }

  /** What the paths should send right now. */
  tracks(): LocalTracks {
    return { audio: this.audioOn.value ? this.audioTrack : null, video: this.videoOn.value ? this.videoTrack : null, screen: this.screenTrack };
  }

  /**
   * Asks the browser for a screen, window or tab to share (the browser's own picker; it
   * needs a click). Resolves false when the person cancelled or the browser cannot share.
   */
  async startScreen(): Promise<boolean> {
    if (this.screenTrack || this.closed) return this.screenTrack !== null;
    if (!canShareScreen()) {
      this.problem.value = 'This browser cannot share a screen.';
      return false;
    }
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: screenConstraints(), audio: false });
      track = stream.getVideoTracks()[0];
      for (const extra of stream.getTracks()) if (extra !== track) extra.stop();
    } catch (err) {
      // Cancelling the picker is a choice, not a problem worth a notice.
      if (!(err instanceof DOMException && err.name === 'NotAllowedError')) this.problem.value = 'Could not share the screen.';
      return false;
    }
    if (!track) return false;
    if (this.closed || this.screenTrack) {
      track.stop();
      return this.screenTrack !== null;
    }
    // Text and slides: keep the resolution, let the frame rate drop under load.
    if ('contentHint' in track) track.contentHint = 'detail';
    track.addEventListener('ended', this.onScreenEnded);
    this.screenTrack = track;
    this.screenOn.value = true;
    this.screenPreview.value = new MediaStream([track]);
    this.onTracksChanged?.();
    return true;
  }

  /** Stops sharing the screen (our button, or the browser's "Stop sharing"); no-op when not sharing. */
  stopScreen(): void {
    const track = this.screenTrack;
    if (!track) return;
    track.removeEventListener('ended', this.onScreenEnded);
    track.stop();
    this.screenTrack = null;
    this.screenOn.value = false;
    this.screenPreview.value = null;
    this.onTracksChanged?.();
  }

  /** Reads the device lists again (they change as devices come and go). */
  async refreshDevices(): Promise<DeviceLists> {
    let all: MediaDeviceInfo[] = [];
    try {
      all = await navigator.mediaDevices.enumerateDevices();
    } catch {
      // No media devices API (insecure context): nothing to choose from.
    }
    const of = (kind: MediaDeviceKind, word: string): DeviceOption[] =>
      all.filter((d) => d.kind === kind && d.deviceId !== '').map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${word} ${i + 1}` }));
    const lists = { camera: of('videoinput', 'Camera'), microphone: of('audioinput', 'Microphone'), speaker: of('audiooutput', 'Speaker') };
    if (!this.closed) this.devices.value = lists;
    return lists;
  }

  /**
   * Switches the camera or microphone to `deviceId`: opens only that kind, stops the old
   * track, keeps on/off as it was (a muted microphone stays muted) and remembers the
   * choice for the next meeting in this browser.
   */
  switchDevice(kind: TrackKind, deviceId: string): Promise<void> {
    return this.enqueue(async () => {
      const old = this.trackOf(kind);
      if (this.inUse.value[kind] === deviceId && old?.readyState === 'live') return;
      let track: MediaStreamTrack;
      try {
        track = await this.open(kind, deviceId);
      } catch (err) {
        if (!old) {
          this.problem.value = `Could not use that ${WORD[kind]}. ${describe(err)}`;
          return;
        }
        // Some phones hold one camera at a time: release the old one and try once more,
        // else go back to the old device.
        this.detach(old);
        try {
          track = await this.open(kind, deviceId);
        } catch {
          this.problem.value = `Could not use that ${WORD[kind]}: staying with the previous one.`;
          const previous = this.inUse.value[kind];
          try {
            if (!previous) throw new Error('no previous device');
            this.install(kind, await this.open(kind, previous), previous);
          } catch {
            this.install(kind, null, null);
            this.problem.value = `Could not use that ${WORD[kind]}, nor the previous one.`;
          }
          return;
        }
      }
      if (this.closed) {
        track.stop();
        return;
      }
      this.install(kind, track, deviceId);
      storage.setDevice(INPUT_KIND[kind], deviceId);
      this.problem.value = null;
    });
  }

  /** Plays remote audio on this output device (where the browser allows it) and remembers it. */
  setSpeaker(deviceId: string): void {
    this.speaker.value = deviceId;
    storage.setDevice('audiooutput', deviceId);
  }

  /** Releases the devices (leaving the meeting). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.listening) navigator.mediaDevices.removeEventListener('devicechange', this.onDeviceChange);
    this.listening = false;
    for (const track of [this.audioTrack, this.videoTrack]) if (track) this.detach(track);
    this.audioTrack = null;
    this.videoTrack = null;
    this.audioOn.value = false;
    this.videoOn.value = false;
    this.preview.value = null;
    this.onTracksChanged = null;
    this.stopScreen();
  }

  /** The browser ended the capture ("Stop sharing", the window closed): the share stops everywhere. */
  private readonly onScreenEnded = (): void => this.stopScreen();

  private readonly onEnded = (event: Event): void => {
    const track = event.target;
    if (track === this.audioTrack && this.audioTrack) void this.lose('audio', this.audioTrack);
    else if (track === this.videoTrack && this.videoTrack) void this.lose('video', this.videoTrack);
  };

  /** A device list change: a track whose device is no longer listed has lost its device. */
  private readonly onDeviceChange = (): void => {
    void this.refreshDevices().then((lists) => {
      for (const kind of ['audio', 'video'] as const) {
        const track = this.trackOf(kind);
        const id = this.inUse.value[kind];
        const listed = kind === 'audio' ? lists.microphone : lists.camera;
        if (track && id && !listed.some((d) => d.deviceId === id)) void this.lose(kind, track);
      }
    });
  };

  /**
   * The device behind `lost` went away: take another of that kind (with a notice), or
   * say that there is none. Not remembered as a choice: the chosen device is preferred
   * again at the next acquisition, when it may be back.
   */
  private lose(kind: TrackKind, lost: MediaStreamTrack): Promise<void> {
    return this.enqueue(async () => {
      if (this.trackOf(kind) !== lost) return; // already replaced (ended and devicechange both report it)
      const lostId = this.inUse.value[kind];
      const lists = await this.refreshDevices();
      const candidates = (kind === 'audio' ? lists.microphone : lists.camera).filter((d) => d.deviceId !== lostId);
      for (const candidate of candidates) {
        try {
          const track = await this.open(kind, candidate.deviceId);
          if (this.closed) {
            track.stop();
            return;
          }
          this.install(kind, track, candidate.deviceId);
          this.problem.value = `Your ${WORD[kind]} was disconnected: now using ${candidate.label}.`;
          return;
        } catch {
          // That one is busy or gone too: try the next.
        }
      }
      this.install(kind, null, null);
      this.problem.value = `Your ${WORD[kind]} was disconnected and there is no other: others no longer ${kind === 'audio' ? 'hear' : 'see'} you.`;
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => (this.closed ? undefined : step()));
    this.queue = next.catch(() => {});
    return next;
  }

  private async open(kind: TrackKind, deviceId: string): Promise<MediaStreamTrack> {
    const constraints = constraintsFor(kind, deviceId, true);
    const stream = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: constraints } : { video: constraints });
    const [track, ...extra] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    for (const t of extra) t.stop();
    if (!track) throw new Error(`no ${WORD[kind]} track`);
    return track;
  }

  /** Makes `track` the one of its kind (stopping the old), keeping on/off, and tells the paths. */
  private install(kind: TrackKind, track: MediaStreamTrack | null, deviceId: string | null): void {
    const old = this.trackOf(kind);
    if (old && old !== track) this.detach(old);
    track?.addEventListener('ended', this.onEnded);
    if (kind === 'audio') {
      this.audioTrack = track;
      if (!track) this.audioOn.value = false;
    } else {
      this.videoTrack = track;
      if (!track) this.videoOn.value = false;
      this.preview.value = track ? new MediaStream([track]) : null;
    }
    this.inUse.value = { ...this.inUse.value, [kind]: deviceId };
    this.onTracksChanged?.();
  }

  private detach(track: MediaStreamTrack): void {
    track.removeEventListener('ended', this.onEnded);
    track.stop();
  }

  private trackOf(kind: TrackKind): MediaStreamTrack | null {
    return kind === 'audio' ? this.audioTrack : this.videoTrack;
  }

  /** The device a freshly acquired track comes from, as the lists name it. */
  private initialDevice(kind: TrackKind, lists: DeviceLists): string | null {
    const track = this.trackOf(kind);
    if (!track) return null;
    const listed = kind === 'audio' ? lists.microphone : lists.camera;
    const has = (id: string | undefined): id is string => id !== undefined && listed.some((d) => d.deviceId === id);
    const fromTrack = track.getSettings().deviceId;
    if (has(fromTrack)) return fromTrack;
    const remembered = storage.device(INPUT_KIND[kind]);
    // A track that does not say (a processed one) came from the browser's pick: the first listed.
    return has(remembered) ? remembered : (listed[0]?.deviceId ?? null);
  }
}

function describe(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return 'Camera and microphone are blocked for this site. Allow them in the browser to be seen and heard.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera or microphone found.';
  if (name === 'NotReadableError') return 'The device is in use by another application.';
  if (!window.isSecureContext) return 'Camera and microphone need HTTPS (or localhost). See the README on HTTPS.';
  return 'Could not start the camera or microphone.';
}
