/**
 * One signaling WebSocket: decodes each frame at the edge, dispatches it exhaustively, and
 * answers requests (by id) with a reply or a coded error. A session joins at most one
 * meeting; closing the socket (or a missed heartbeat) leaves it.
 */
import type { FastifyBaseLogger } from 'fastify';
import { CodedError } from '../../protocol/errors';
import { LIMITS } from '../../protocol/limits';
import type { ClientMessage, IceServer, ServerMessage } from '../../protocol/signaling';
import type { Meeting } from '../meetings/Meeting';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { Participant } from '../meetings/Participant';
import { UNLIMITED, type SessionGuard } from '../limits/AddressLimits';
import { decodeClientMessage } from './decode';
import type { SessionSocket } from './SessionSocket';

/** The media side of signaling (relay connection, topology switch), kept out of this file. */
export interface MediaSignaling {
  relayOffer(meeting: Meeting, participant: Participant, sdp: string): Promise<string>;
  relayCandidate(meeting: Meeting, participant: Participant, candidate: Extract<ClientMessage, { type: 'relay-candidate' }>['candidate']): void;
  /** `resync`: the client's signaling came back, the relay sends it its state again. */
  relayView(meeting: Meeting, participant: Participant, slots: Extract<ClientMessage, { type: 'relay-view' }>['slots'], resync: boolean): void;
  pathReady(meeting: Meeting, participant: Participant, epoch: number): void;
  pathFailed(meeting: Meeting, participant: Participant, epoch: number): void;
  mediaRecovery(meeting: Meeting, participant: Participant, path: 'p2p' | 'relay', phase: 'restarting' | 'recovered'): void;
  setRecording(meeting: Meeting, host: Participant, on: boolean): void;
}

/**
 * Where a meeting this node does not hold lives (several nodes over Redis): `local` means
 * it now does (placed or restored here), `forward` that node `nodeId` holds it and this
 * socket's frames go there; undefined: no such meeting anywhere.
 */
export type MeetingRoute = { kind: 'local'; meeting: Meeting } | { kind: 'forward'; nodeId: string };

/** The cluster's part in a join (several nodes); a single process has none. */
export interface SessionCluster {
  route(meetingId: string): Promise<MeetingRoute | undefined>;
  /** Hands the socket over to node `nodeId`: `frames` (the join first) and every later frame go there. */
  forward(nodeId: string, socket: SessionSocket, frames: Buffer[]): void;
}

export interface SessionDeps {
  registry: MeetingRegistry;
  cluster?: SessionCluster;
  iceServersFor(participantId: string): IceServer[];
  media: MediaSignaling;
  log: FastifyBaseLogger;
  /** `PUBLIC_URL`: the base of the meeting link `joined` carries. */
  publicUrl?: string;
}

/** `forwarded`: the meeting lives on another node, which now runs this socket's session. */
type SessionState = 'connected' | 'routing' | 'joined' | 'forwarded' | 'closed';

/** WebSocket close codes (4000–4999 are ours). */
export const CLOSE_CODES = { removed: 4001, heartbeat: 4002, replaced: 4003, restarting: 4004 } as const;

/**
 * How a session ends: `left` (explicit), `dropped` (the socket went away: the participant
 * is kept for the departure grace), `restarting` (the server is stopping; the meeting stays
 * open in the record and its people come back after the restart).
 */
export type SessionEnd = 'left' | 'dropped' | 'restarting';

export class SignalingSession {
  private state: SessionState = 'connected';
  private meeting: Meeting | undefined;
  private participant: Participant | undefined;

  /** Frames that came while a join looked for its meeting on other nodes. */
  private readonly held: Buffer[] = [];

  constructor(
    private readonly socket: SessionSocket,
    private readonly deps: SessionDeps,
    /** This socket's rate limits and the meeting size cap. */
    private readonly guard: SessionGuard = UNLIMITED,
  ) {
    socket.onMessage((raw) => this.onFrame(raw));
    socket.onClose(() => this.close('dropped'));
  }

  /** Ends the session as `end` says and closes the socket; idempotent. */
  close(end: SessionEnd = 'left'): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (end === 'restarting') {
      this.send({ type: 'server-restarting' });
      this.meeting = undefined;
      this.participant = undefined;
      if (this.socket.isOpen) this.socket.close(CLOSE_CODES.restarting, 'server restarting');
      return;
    }
    this.leaveMeeting(end);
    if (this.socket.isOpen) this.socket.close(1000, 'bye');
  }

  private send(message: ServerMessage, serialized?: string): void {
    if (this.socket.isOpen) this.socket.send(serialized ?? JSON.stringify(message));
  }

  private sendError(error: CodedError, id?: number): void {
    this.send(id === undefined ? { type: 'error', code: error.code, message: error.message } : { type: 'error', id, code: error.code, message: error.message });
  }

  private onFrame(raw: Buffer): void {
    if (this.state === 'closed' || this.state === 'forwarded') return;
    if (this.state === 'routing') {
      this.held.push(raw);
      return;
    }
    const decoded = decodeClientMessage(raw);
    // Every frame counts, valid or not; a refused one is answered, never silently dropped.
    const limited = this.guard.frame();
    if (limited) {
      this.sendError(limited, decoded.ok ? ('id' in decoded.message ? decoded.message.id : undefined) : decoded.requestId);
      return;
    }
    if (!decoded.ok) {
      this.sendError(decoded.error, decoded.requestId);
      return;
    }
    const message = decoded.message;
    const requestId = 'id' in message ? message.id : undefined;
    this.dispatch(message, raw).catch((err: unknown) => {
      if (err instanceof CodedError) {
        this.sendError(err, requestId);
      } else {
        this.deps.log.error({ err, type: message.type }, 'signaling handler failed');
        this.sendError(new CodedError('INTERNAL'), requestId);
      }
    });
  }

  private async dispatch(message: ClientMessage, raw: Buffer): Promise<void> {
    switch (message.type) {
      case 'join':
        return this.join(message, raw);
      case 'leave':
        this.leaveMeeting('left');
        return;
      case 'chat': {
        const { meeting, participant } = this.joined();
        const text = message.text.trim();
        if (text.length === 0) throw new CodedError('BAD_MESSAGE', 'A chat message cannot be empty.');
        if (text.length > LIMITS.chatTextMax) throw new CodedError('CHAT_TOO_LONG');
        if (!participant.chatLimiter.take()) throw new CodedError('RATE_LIMITED');
        meeting.chat(participant, message.messageId, text);
        this.send({ type: 'ack', id: message.id });
        return;
      }
      case 'media-state': {
        const { meeting, participant } = this.joined();
        meeting.setMedia(participant, { audio: message.audio, video: message.video, screen: message.screen ?? false });
        return;
      }
      case 'signal': {
        const { meeting, participant } = this.joined();
        meeting.relaySignal(participant, message.to, message.conn, message.data);
        return;
      }
      case 'relay-offer': {
        const { meeting, participant } = this.joined();
        const sdp = await this.deps.media.relayOffer(meeting, participant, message.sdp);
        this.send({ type: 'relay-answer', id: message.id, sdp });
        return;
      }
      case 'relay-candidate': {
        const { meeting, participant } = this.joined();
        this.deps.media.relayCandidate(meeting, participant, message.candidate);
        return;
      }
      case 'relay-view': {
        const { meeting, participant } = this.joined();
        this.deps.media.relayView(meeting, participant, message.slots, message.resync === true);
        return;
      }
      case 'path-ready': {
        const { meeting, participant } = this.joined();
        this.deps.media.pathReady(meeting, participant, message.epoch);
        return;
      }
      case 'path-failed': {
        const { meeting, participant } = this.joined();
        this.deps.media.pathFailed(meeting, participant, message.epoch);
        return;
      }
      case 'host-mute': {
        const { meeting, participant } = this.joined();
        meeting.muteByHost(participant, message.participantId);
        this.send({ type: 'ack', id: message.id });
        return;
      }
      case 'host-remove': {
        const { meeting, participant } = this.joined();
        meeting.removeByHost(participant, message.participantId);
        this.send({ type: 'ack', id: message.id });
        return;
      }
      case 'host-record': {
        const { meeting, participant } = this.joined();
        if (!participant.isCreator) throw new CodedError('NOT_HOST');
        this.deps.media.setRecording(meeting, participant, message.recording);
        this.send({ type: 'ack', id: message.id });
        return;
      }
      case 'host-lock': {
        const { meeting, participant } = this.joined();
        meeting.setLocked(message.locked, participant);
        this.send({ type: 'ack', id: message.id });
        return;
      }
      case 'media-recovery': {
        const { meeting, participant } = this.joined();
        this.deps.media.mediaRecovery(meeting, participant, message.path, message.phase);
        return;
      }
      default: {
        const unhandled: never = message;
        throw new CodedError('UNKNOWN_MESSAGE_TYPE', `Unhandled message ${JSON.stringify(unhandled)}`);
      }
    }
  }

  private async join(message: Extract<ClientMessage, { type: 'join' }>, raw: Buffer): Promise<void> {
    if (this.state === 'joined') throw new CodedError('ALREADY_JOINED');
    this.guard.joinAttempt();
    let meeting = this.deps.registry.get(message.meetingId);
    if (!meeting && this.deps.cluster) {
      try {
        const route = await this.routeJoin(this.deps.cluster, message.meetingId, raw);
        if (route === 'forwarded') return;
        meeting = route;
        if (!meeting) throw new CodedError('MEETING_NOT_FOUND');
        if (this.state !== 'connected') return; // the socket closed meanwhile
        this.joinHere(meeting, message);
      } finally {
        // Whatever came while the join looked for its meeting, in order, after it.
        for (const frame of this.held.splice(0)) this.onFrame(frame);
      }
      return;
    }
    if (!meeting) throw new CodedError('MEETING_NOT_FOUND');
    this.joinHere(meeting, message);
  }

  private joinHere(meeting: Meeting, message: Extract<ClientMessage, { type: 'join' }>): void {
    const name = message.name.trim();
    if (name.length === 0) throw new CodedError('BAD_MESSAGE', 'A display name is required.');
    const link = {
      send: (m: ServerMessage, serialized?: string) => this.send(m, serialized),
      close: (reason: 'cancelled' | 'ended' | 'replaced' | 'removed') => this.removedByMeeting(reason),
    };
    // A known resume token brings back the same participant; an unknown one (the grace
    // ran out, the server restarted) joins afresh with the same name and credentials.
    const resumed = message.resumeToken === undefined ? undefined : meeting.resume(message.resumeToken, link);
    // The size cap is for newcomers: someone resuming is already counted.
    if (!resumed) this.guard.admit(meeting.size);
    const participant = resumed ?? meeting.join(name, link, message.creatorToken);
    this.meeting = meeting;
    this.participant = participant;
    this.state = 'joined';
    this.send({
      type: 'joined',
      id: message.id,
      self: participant.info(),
      meeting: { id: meeting.id, title: meeting.title, topology: meeting.topology, ...meeting.path, locked: meeting.locked, recording: meeting.recording },
      participants: meeting.participants.filter((p) => p !== participant).map((p) => p.info()),
      iceServers: this.deps.iceServersFor(participant.id),
      resumeToken: participant.resumeToken,
      resumed: resumed !== undefined,
      chat: resumed ? meeting.chatSince(resumed) : [],
      ...(this.deps.publicUrl !== undefined ? { link: `${this.deps.publicUrl}/m/${meeting.id}` } : {}),
    });
  }

  /**
   * Finds a meeting this node does not hold on the cluster: placed or restored here, or
   * held by another node, which then runs this socket's session (this one only forwards
   * the join, what came meanwhile, and every later frame). Frames arriving meanwhile wait.
   */
  private async routeJoin(cluster: SessionCluster, meetingId: string, joinFrame: Buffer): Promise<Meeting | 'forwarded' | undefined> {
    this.state = 'routing';
    let route: MeetingRoute | undefined;
    try {
      route = await cluster.route(meetingId);
    } finally {
      if (this.state === 'routing') this.state = 'connected';
    }
    if (this.state !== 'connected' || !route) return undefined;
    if (route.kind === 'local') return route.meeting;
    this.state = 'forwarded';
    cluster.forward(route.nodeId, this.socket, [joinFrame, ...this.held.splice(0)]);
    return 'forwarded';
  }

  /** The meeting removed us (cancelled, ended) or another socket resumed our participant. */
  private removedByMeeting(reason: 'cancelled' | 'ended' | 'replaced' | 'removed'): void {
    this.meeting = undefined;
    this.participant = undefined;
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (!this.socket.isOpen) return;
    if (reason === 'replaced') this.socket.close(CLOSE_CODES.replaced, 'resumed on another connection');
    else this.socket.close(CLOSE_CODES.removed, 'removed');
  }

  private leaveMeeting(end: 'left' | 'dropped'): void {
    const { meeting, participant } = this;
    this.meeting = undefined;
    this.participant = undefined;
    if (this.state === 'joined') this.state = 'connected';
    if (!meeting || !participant) return;
    if (end === 'left') meeting.leave(participant.id, 'left');
    else meeting.drop(participant.id);
  }

  private joined(): { meeting: Meeting; participant: Participant } {
    if (this.state !== 'joined' || !this.meeting || !this.participant) throw new CodedError('NOT_JOINED');
    return { meeting: this.meeting, participant: this.participant };
  }
}
