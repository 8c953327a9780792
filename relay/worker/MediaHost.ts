/**
 * Everything one media worker runs: for each meeting placed on it, the `MeetingRelay` (video
 * forwarding), its `AudioMixer` (N−1 mixes) and, while recording, a `MixRecorder`. It takes
 * `ToWorker` messages and answers with `FromWorker` messages through `post`, so the same code
 * runs in a media worker process (`mediaWorker.ts`) and, with `MEDIA_WORKERS=0`, on the main
 * thread.
 */
import { performance } from 'node:perf_hooks';
import { AudioMixer } from '../audio/AudioMixer';
import { addTotals, foldGauges, zeroMixerFigures, zeroRelayCounters } from '../counters';
import { describe } from '../log';
import { MeetingRelay } from '../MeetingRelay';
import { RelayError } from '../errors';
import { MixRecorder } from '../recording/MixRecorder';
import type { RelayLogger } from '../types';
import type { FromWorker, MeetingFigures, ToWorker, WorkerFigures } from './channel';

/** How often the coordinator gets every meeting's figures (counters, mixer timing, endpoints). */
export const FIGURES_INTERVAL_MS = 250;

interface HostedMeeting {
  readonly relay: MeetingRelay;
  readonly mixer: AudioMixer;
  recording: { id: string; recorder: MixRecorder } | null;
  /** The endpoint list last posted, serialized, to post only changes. */
  endpointsKey: string;
}

type Post = (message: FromWorker) => void;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export class MediaHost {
  private readonly meetings = new Map<string, HostedMeeting>();
  private readonly figuresTimer: NodeJS.Timeout;
  private closed = false;
  /** A round of figures is being gathered (postFigures). */
  private gathering = false;
  private lastElu = performance.eventLoopUtilization();
  /** The totals of the meetings closed here (their gauges stay zero). */
  private readonly closedTotals = { relay: zeroRelayCounters(), mixer: zeroMixerFigures() };

  constructor(
    private readonly post: Post,
    /** Lines below this level are dropped here rather than sent over. */
    private readonly logLevel: LogLevel = 'info',
    /** A worker process of its own: its CPU and memory are reported with its figures. */
    private readonly ownProcess = false,
  ) {
    this.figuresTimer = setInterval(() => this.postFigures(), FIGURES_INTERVAL_MS);
    this.figuresTimer.unref();
  }

  /** Applies one (already validated) message; failures are logged back, never thrown. */
  handle(message: ToWorker): void {
    try {
      this.apply(message);
    } catch (err) {
      const meetingId = 'meetingId' in message ? message.meetingId : undefined;
      this.log('error', `media worker failed on "${message.type}"`, { err }, meetingId);
    }
  }

  /** Closes every meeting (their last figures are posted first). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.figuresTimer);
    for (const meetingId of [...this.meetings.keys()]) this.closeMeeting(meetingId);
  }

  private apply(message: ToWorker): void {
    switch (message.type) {
      case 'open':
        this.open(message.meetingId, message.options);
        return;
      case 'close':
        this.closeMeeting(message.meetingId);
        return;
      case 'offer':
        void this.offer(message);
        return;
      case 'candidate': {
        const { candidate } = message;
        this.meeting(message.meetingId)?.relay.addCandidate(message.participantId, {
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? null,
          sdpMLineIndex: candidate.sdpMLineIndex ?? null,
        }).catch((err: unknown) => this.log('debug', 'relay candidate refused', { err }, message.meetingId));
        return;
      }
      // The relay is the mixer's one writer: it adds, mutes and removes its participants.
      case 'publishing':
        this.meeting(message.meetingId)?.relay.setPublishing(message.participantId, message.publishing);
        return;
      case 'view':
        this.meeting(message.meetingId)?.relay.setView(message.participantId, message.slots, message.resync === true);
        return;
      case 'remove-participant':
        this.meeting(message.meetingId)?.relay.removeParticipant(message.participantId);
        return;
      case 'lose-participant':
        this.meeting(message.meetingId)?.relay.loseParticipant(message.participantId);
        return;
      case 'record-start':
        this.startRecording(message.meetingId, message.recordingId, message.path, message.maxBytes);
        return;
      case 'record-stop':
        this.stopRecording(message.meetingId, message.reason);
        return;
      case 'shutdown':
        this.close();
        return;
    }
  }

  private open(meetingId: string, options: Extract<ToWorker, { type: 'open' }>['options']): void {
    if (this.meetings.has(meetingId) || this.closed) return;
    const logger = this.loggerFor(meetingId);
    const relay: MeetingRelay = new MeetingRelay(meetingId, {
      addParticipant: (id) => mixer.addParticipant(id),
      removeParticipant: (id) => mixer.removeParticipant(id),
      pushPacket: (id, seq, ts, payload) => mixer.pushPacket(id, seq, ts, payload),
      setMuted: (id, muted) => mixer.setMuted(id, muted),
    }, {
      hostAddresses: options.hostAddresses,
      ...(options.icePortRange ? { icePortRange: options.icePortRange } : {}),
      ...(options.udpMuxPort !== undefined ? { udpMuxPort: options.udpMuxPort } : {}),
      ...(options.announcedAddress !== undefined ? { announcedAddress: options.announcedAddress } : {}),
      ...(options.bindAddress !== undefined ? { bindAddress: options.bindAddress } : {}),
      logger,
    });
    const mixer: AudioMixer = new AudioMixer({
      onFrame: (id, opus, mediaTimeMs) => relay.sendAudio(id, opus, mediaTimeMs),
      onLevels: (levels) => {
        const rounded: Record<string, number> = {};
        for (const [id, level] of levels) rounded[id] = Math.round(level * 1000) / 1000;
        this.post({ type: 'levels', meetingId, levels: rounded });
        // Who speaks decides which cameras full slots show.
        relay.setLevels(levels);
      },
      onError: (err, participantId) => this.log('debug', 'mixer error', { err, participantId }, meetingId),
    });
    const hosted: HostedMeeting = { relay, mixer, recording: null, endpointsKey: '[]' };
    relay.on('candidate', (participantId, candidate) => {
      // The TURN peer policy must know an endpoint before the client can try it.
      this.postEndpoints(meetingId, hosted);
      this.post({ type: 'candidate', meetingId, participantId, candidate });
    });
    relay.on('slots', (participantId, slots) => this.post({ type: 'slots', meetingId, participantId, slots }));
    relay.on('cameraLayers', (participantId, active) => this.post({ type: 'camera-layers', meetingId, participantId, active }));
    relay.on('closed', (participantId, reason) => this.post({ type: 'closed', meetingId, participantId, reason }));
    relay.on('downlink', (participantId, report) => {
      // The talker's own share of the relay's delay, next to its link (the mixer is the relay's neighbour here).
      const held = mixer.heldMsOf(participantId);
      this.post({ type: 'downlink', meetingId, participantId, report: held === undefined ? report : { ...report, voiceHeldMs: Math.round(held) } });
    });
    this.meetings.set(meetingId, hosted);
    mixer.start();
    logger.info({}, 'relay started');
  }

  private async offer(message: Extract<ToWorker, { type: 'offer' }>): Promise<void> {
    const { meetingId, participantId, requestId, publishing } = message;
    const m = this.meeting(meetingId);
    if (!m) {
      this.post({ type: 'offer-failed', requestId, code: 'RELAY_CLOSED', message: `no relay for meeting ${meetingId} here` });
      return;
    }
    // Our clients never renegotiate the relay (their video slots are pre-allocated), so an
    // offer from someone the relay knows is a fresh session (a reload, or a restart after
    // a failure): the old connection goes first.
    if (m.relay.has(participantId)) m.relay.replaceParticipant(participantId);
    // Before the answer is awaited: a `publishing` message (a share started meanwhile)
    // that arrives during the negotiation must not be overwritten by this older state.
    m.relay.setPublishing(participantId, publishing);
    try {
      const sdp = await m.relay.handleOffer(participantId, message.sdp);
      this.postEndpoints(meetingId, m);
      this.post({ type: 'answer', requestId, sdp });
    } catch (err) {
      const code = err instanceof RelayError ? err.code : 'RELAY_FAILED';
      // A client's bad offer is theirs to fix, not a fault of this worker.
      this.log(code === 'INVALID_OFFER' ? 'info' : 'warn', 'relay offer failed', { err, participantId }, meetingId);
      this.post({ type: 'offer-failed', requestId, code, message: err instanceof Error ? err.message : String(err) });
    }
  }

  private startRecording(meetingId: string, recordingId: string, path: string, maxBytes: number): void {
    const m = this.meeting(meetingId);
    if (!m || m.recording) return;
    const recorder = new MixRecorder(path, maxBytes);
    recorder.onStop = (why) => this.stopRecording(meetingId, why);
    m.recording = { id: recordingId, recorder };
    m.mixer.setFullMixTap((mix) => recorder.push(mix));
  }

  /** Ends the meeting's recording; its final figures go out once the file is on disk. */
  private stopRecording(meetingId: string, reason: string): void {
    const m = this.meetings.get(meetingId);
    const current = m?.recording;
    if (!m || !current) return;
    m.recording = null;
    m.mixer.setFullMixTap(null);
    const { id, recorder } = current;
    const why = reason === 'size cap reached' || reason === 'write failed' || reason === 'meeting over' ? reason : 'stopped';
    void recorder.stop(why).then(() => {
      this.post({ type: 'recording-ended', meetingId, recordingId: id, reason, durationMs: recorder.durationMs, bytes: recorder.bytes });
    });
  }

  private closeMeeting(meetingId: string): void {
    const m = this.meetings.get(meetingId);
    if (!m) return;
    this.stopRecording(meetingId, 'meeting over');
    // The final figures, so the coordinator's totals include the last packets.
    const final = figuresOf(m);
    addTotals(this.closedTotals, final);
    this.post({ type: 'figures', meetings: { [meetingId]: final } });
    m.relay.close();
    m.mixer.close();
    this.meetings.delete(meetingId);
    this.loggerFor(meetingId).info({}, 'relay stopped');
  }

  /**
   * Gathers every meeting's figures, one meeting per turn of the event loop, then posts them
   * together. In one go it took ≈ 2 ms every 250 ms (20 meetings; up to 4 ms), in which the
   * mix ticks that came due waited; this way a due tick waits for one meeting's at most.
   */
  private postFigures(): void {
    if (this.gathering) return;
    this.gathering = true;
    const ids = [...this.meetings.keys()];
    const meetings: Record<string, MeetingFigures> = {};
    const gather = (i: number): void => {
      if (this.closed) {
        this.gathering = false;
        return;
      }
      const meetingId = ids[i];
      if (meetingId === undefined) {
        this.gathering = false;
        this.postGathered(meetings);
        return;
      }
      const m = this.meetings.get(meetingId);
      if (m) {
        meetings[meetingId] = figuresOf(m);
        this.postEndpoints(meetingId, m);
      }
      setImmediate(gather, i + 1);
    };
    gather(0);
  }

  private postGathered(gathered: Record<string, MeetingFigures>): void {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.lastElu).utilization;
    this.lastElu = now;
    // Idle too: the worker's own CPU and memory are figures of their own. A meeting closed
    // meanwhile has posted its final figures and joined the closed totals.
    const meetings: Record<string, MeetingFigures> = {};
    for (const [meetingId, figures] of Object.entries(gathered)) if (this.meetings.has(meetingId)) meetings[meetingId] = figures;
    this.post({ type: 'figures', meetings, utilization: Math.min(1, Math.max(0, utilization)), worker: this.workerFigures(Object.values(meetings)) });
  }

  /** This worker as a whole: closed meetings' totals plus the live ones', the live gauges folded. */
  private workerFigures(live: MeetingFigures[]): WorkerFigures {
    const whole = { relay: { ...this.closedTotals.relay }, mixer: { ...this.closedTotals.mixer } };
    for (const figures of live) {
      addTotals(whole, figures);
      foldGauges(whole, figures);
    }
    if (!this.ownProcess) return whole;
    const cpu = process.cpuUsage();
    return { ...whole, process: { cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: process.memoryUsage.rss() } };
  }

  private postEndpoints(meetingId: string, m: HostedMeeting): void {
    const endpoints = m.relay.localUdpEndpoints();
    const key = JSON.stringify(endpoints);
    if (key === m.endpointsKey) return;
    m.endpointsKey = key;
    this.post({ type: 'endpoints', meetingId, endpoints });
  }

  private meeting(meetingId: string): HostedMeeting | undefined {
    return this.meetings.get(meetingId);
  }

  private log(level: LogLevel, msg: string, details: object, meetingId?: string): void {
    if (LEVELS[level] < LEVELS[this.logLevel]) return;
    // Through JSON: whatever a log call holds (sockets, functions) must not break the channel.
    let plain: Record<string, unknown>;
    try {
      plain = JSON.parse(JSON.stringify(describe(details)) ?? '{}') as Record<string, unknown>;
    } catch {
      plain = { details: 'not serializable' };
    }
    this.post({ type: 'log', level, msg, details: plain, ...(meetingId ? { meetingId } : {}) });
  }

  private loggerFor(meetingId: string): RelayLogger {
    return {
      debug: (obj, msg) => this.log('debug', msg ?? '', obj, meetingId),
      info: (obj, msg) => this.log('info', msg ?? '', obj, meetingId),
      warn: (obj, msg) => this.log('warn', msg ?? '', obj, meetingId),
      error: (obj, msg) => this.log('error', msg ?? '', obj, meetingId),
    };
  }
}

function figuresOf(m: HostedMeeting): MeetingFigures {
  const c = m.mixer.counters;
  const recorder = m.recording?.recorder;
  return {
    relay: m.relay.counters(),
    mixer: { ticks: c.ticks, lateTicks: c.lateTicks, tickMsP50: c.tickMsP50, tickMsP99: c.tickMsP99, concealed: c.concealed, latePackets: c.latePackets, complexity: c.complexity, departureMsP50: c.departureMsP50, departureMsP99: c.departureMsP99, departureMsMax: c.departureMsMax, inputHeldMs: c.inputHeldMs },
    ...(recorder ? { recording: { recordingId: m.recording!.id, durationMs: recorder.durationMs, bytes: recorder.bytes } } : {}),
  };
}
