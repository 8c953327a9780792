/**
 * One person's presence in one meeting: joins over signaling, keeps the participant list,
 * the chat (deduplicated by message id) and the notices, as signals the UI renders. A
 * dropped connection is not the end: the signaling client reconnects by itself and this
 * session resumes (same participant) or, when the server no longer knows it, rejoins with
 * the same name and rights; chat sent meanwhile waits in an outbox and goes out once.
 * The media engine attaches to it; this file knows nothing about WebRTC.
 */
import { signal } from '@preact/signals';
import type { ChatMessage, IceServer, ParticipantInfo, ServerMessage, ServerMessageOf } from '../../protocol/signaling';
import type { TopologyMode, TopologyPreference } from '../../protocol/rest';
import { cancelMeeting } from '../api';
import { attributePeerChat } from './peerChat';
import { SignalingClient, SignalingError, type ConnectionState } from '../signaling/SignalingClient';
import { storage } from '../storage';

/** `reconnecting`: the socket dropped; media keeps playing while we get back in. */
export type RoomPhase = 'joining' | 'joined' | 'reconnecting' | 'left' | 'closed' | 'failed';
/** What the badge shows: `waiting` until there is someone to exchange media with. */
export type BadgeMode = 'waiting' | TopologyMode;

export interface ChatLine extends ChatMessage {
  own: boolean;
  /** Own message not yet confirmed delivered. */
  pending: boolean;
  failed?: boolean;
}

/** Where a chat line can be sent besides the server (the P2P data channel). */
export interface ChatPath {
  /**
   * Sends the message on the path; false when the path cannot carry it right now. True
   * is not delivery: the path calls `chatDelivered` once the others acknowledged it.
   */
  trySend(message: ChatMessage): boolean;
}

/** An own chat line not acknowledged yet, sent again while it is not. */
interface OutgoingChat {
  message: ChatMessage;
  lastTry: number;
}

/** How often unacknowledged own lines are looked at, and how old a try must be to repeat it. */
const CHAT_RETRY_CHECK_MS = 1000;
const CHAT_RETRY_AFTER_MS = 3000;

/** Join errors after which trying again cannot help. */
const FINAL_JOIN_ERRORS = new Set(['MEETING_NOT_FOUND', 'MEETING_ENDED', 'MEETING_CANCELLED', 'BAD_MESSAGE', 'MEETING_FULL', 'MEETING_LOCKED']);
export const RECONNECTING_NOTICE = 'Reconnecting…';

export class RoomSession {
  readonly phase = signal<RoomPhase>('joining');
  readonly notice = signal<string | null>(null);
  readonly self = signal<ParticipantInfo | null>(null);
  readonly others = signal<ParticipantInfo[]>([]);
  readonly chat = signal<ChatLine[]>([]);
  readonly mode = signal<TopologyMode>('p2p');
  /** The latest path change, said in words (shown briefly under the header). */
  readonly pathNews = signal<{ text: string; at: number } | null>(null);
  readonly title = signal('');
  /** The meeting's shareable link (on `PUBLIC_URL` when the server has one). */
  readonly link = signal('');
  readonly topology = signal<TopologyPreference>('auto');
  /** A host: the creator, or whoever opened the host link (both hold the creator credential). */
  readonly isCreator = signal(false);
  /** Locked by a host: nobody new may join. */
  readonly locked = signal(false);
  /** The meeting's audio is being recorded (everyone sees it). */
  readonly recording = signal(false);
  iceServers: IceServer[] = [];
  /** Set by the media engine while a P2P data channel is open. */
  chatPath: ChatPath | null = null;

  private readonly seenChatIds = new Set<string>();
  /**
   * Own chat lines nobody acknowledged yet (the server, or every peer on the data channel),
   * sent again on whatever path works until one does; receivers drop repeats by id.
   */
  private readonly outbox = new Map<string, OutgoingChat>();
  private outboxTimer: ReturnType<typeof setInterval> | null = null;
  private readonly listeners = new Set<(message: ServerMessage) => void>();
  private joinedOnce = false;
  readonly signaling: SignalingClient;

  constructor(
    readonly meetingId: string,
    readonly name: string,
    signalingUrl = SignalingClient.urlForPage(),
  ) {
    for (const line of storage.chat(meetingId)) {
      this.seenChatIds.add(line.id);
      this.chat.value = [...this.chat.value, { ...line, pending: false }];
    }
    this.signaling = new SignalingClient(signalingUrl);
    this.signaling.onMessage = (m) => this.onServerMessage(m);
    this.signaling.onState = (state) => this.onConnectionState(state);
    this.signaling.onClose = (code) => {
      if (this.phase.value === 'left' || this.phase.value === 'closed') return;
      this.phase.value = 'failed';
      this.notice.value = code === 4003 ? 'This meeting was opened again in another tab or window.' : 'The connection to the server was closed.';
    };
  }

  /** Every server message that is not a reply (and every `joined`), for the media engine. */
  subscribe(listener: (message: ServerMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins (or, with this tab's resume token, resumes) the meeting. */
  async join(): Promise<void> {
    try {
      const creatorToken = storage.creatorToken(this.meetingId);
      const resumeToken = storage.resumeToken(this.meetingId);
      const joined = await this.signaling.request<'joined'>({
        type: 'join',
        meetingId: this.meetingId,
        name: this.name,
        ...(creatorToken ? { creatorToken } : {}),
        ...(resumeToken ? { resumeToken } : {}),
      });
      this.onJoined(joined);
    } catch (err) {
      const code = err instanceof SignalingError ? err.code : '';
      if (this.joinedOnce && !FINAL_JOIN_ERRORS.has(code)) return; // the socket dropped again: the next reconnect retries
      this.phase.value = code === 'MEETING_ENDED' || code === 'MEETING_CANCELLED' ? 'closed' : 'failed';
      this.notice.value = err instanceof Error ? err.message : 'Could not join the meeting.';
      storage.forgetMeeting(this.meetingId);
      this.signaling.close();
    }
  }

  /** Sends a chat line: over the P2P data channel when one is open, else via the server. */
  async sendChat(text: string): Promise<void> {
    const self = this.self.value;
    const trimmed = text.trim();
    if (!self || trimmed.length === 0) return;
    const message: ChatMessage = { id: crypto.randomUUID(), from: self.id, name: self.name, at: new Date().toISOString(), text: trimmed };
    this.seenChatIds.add(message.id);
    this.chat.value = [...this.chat.value, { ...message, own: true, pending: true }];
    const entry: OutgoingChat = { message, lastTry: 0 };
    this.outbox.set(message.id, entry);
    this.outboxTimer ??= setInterval(() => this.retryOutbox(), CHAT_RETRY_CHECK_MS);
    await this.trySend(entry);
  }

  /** An own line was acknowledged (by the server, or by every peer of the data channel). */
  chatDelivered(id: string): void {
    if (!this.outbox.delete(id)) return;
    this.markChat(id, { pending: false });
    if (this.outbox.size === 0) this.stopOutbox();
  }

  /** A chat line that arrived (from the server or a data channel); duplicates are dropped. */
  receiveChat(message: ChatMessage): void {
    if (this.seenChatIds.has(message.id)) return;
    this.seenChatIds.add(message.id);
    this.chat.value = [...this.chat.value, { ...message, own: false, pending: false }];
    this.keepChat();
  }

  /** A chat line from a P2P data channel: shown under the name the meeting has for `peerId`. */
  receivePeerChat(peerId: string, message: ChatMessage): void {
    const attributed = attributePeerChat(message, peerId, this.others.value);
    if (attributed) this.receiveChat(attributed);
  }

  /** The Leave button: an explicit leave (a reload or a closed tab is only a drop). */
  leave(): void {
    if (this.phase.value === 'left') return;
    this.stopOutbox();
    this.signaling.send({ type: 'leave' });
    this.signaling.close();
    storage.forgetMeeting(this.meetingId);
    this.phase.value = 'left';
    this.notice.value = 'You left the meeting.';
  }

  /** Stops talking to the server without leaving (the page is going away: a drop). */
  detach(): void {
    this.stopOutbox();
    this.signaling.close();
  }

  /** The link that makes whoever opens it a host (a host only: it carries the creator credential). */
  hostLink(): string | undefined {
    const token = storage.creatorToken(this.meetingId);
    return this.isCreator.value && token && this.link.value ? `${this.link.value}#host=${encodeURIComponent(token)}` : undefined;
  }

  /** Creator only; the server confirms by closing the meeting for everyone. */
  async cancel(): Promise<void> {
    const token = storage.creatorToken(this.meetingId);
    if (!token) return;
    try {
      await cancelMeeting(this.meetingId, token);
      storage.forgetCreatorToken(this.meetingId);
    } catch (err) {
      this.notice.value = err instanceof Error ? err.message : 'Could not cancel the meeting.';
    }
  }

  /** Host: turns another participant's microphone off. */
  hostMute(participantId: string): Promise<void> {
    return this.hostRequest({ type: 'host-mute', participantId });
  }

  /** Host: removes another participant from the meeting. */
  hostRemove(participantId: string): Promise<void> {
    return this.hostRequest({ type: 'host-remove', participantId });
  }

  /** Host: locks or unlocks the meeting. */
  setLocked(locked: boolean): Promise<void> {
    return this.hostRequest({ type: 'host-lock', locked });
  }

  /** Host: starts or stops recording the meeting's audio. */
  setRecording(recording: boolean): Promise<void> {
    return this.hostRequest({ type: 'host-record', recording });
  }

  private async hostRequest(
    message: { type: 'host-mute' | 'host-remove'; participantId: string } | { type: 'host-lock'; locked: boolean } | { type: 'host-record'; recording: boolean },
  ): Promise<void> {
    try {
      await this.signaling.request<'ack'>(message);
    } catch (err) {
      this.notice.value = err instanceof Error ? err.message : 'That did not work.';
    }
  }

  private onJoined(joined: ServerMessageOf<'joined'>): void {
    const fresh = this.self.value !== null && this.self.value.id !== joined.self.id;
    this.self.value = joined.self;
    this.others.value = joined.participants;
    this.title.value = joined.meeting.title;
    this.link.value = joined.link ?? `${location.origin}/m/${encodeURIComponent(this.meetingId)}`;
    this.topology.value = joined.meeting.topology;
    this.mode.value = joined.meeting.mode;
    this.isCreator.value = joined.self.isCreator;
    this.locked.value = joined.meeting.locked;
    this.recording.value = joined.meeting.recording;
    this.iceServers = joined.iceServers;
    storage.setResumeToken(this.meetingId, joined.resumeToken);
    for (const message of joined.chat) this.receiveChat(message);
    if (this.phase.value === 'reconnecting') this.notice.value = null;
    if (fresh) this.pathNews.value = { text: 'Back in the meeting (the server had restarted).', at: Date.now() };
    this.phase.value = 'joined';
    this.joinedOnce = true;
    // The media engine starts (or resumes) its paths from the join reply, before any later message.
    for (const listener of this.listeners) listener(joined);
    for (const entry of this.outbox.values()) void this.trySend(entry);
  }

  private onConnectionState(state: ConnectionState): void {
    if (!this.joinedOnce || this.phase.value === 'left' || this.phase.value === 'closed') return;
    if (state === 'reconnecting') {
      this.phase.value = 'reconnecting';
      this.notice.value = RECONNECTING_NOTICE;
    } else if (state === 'connected') {
      void this.join();
    }
  }

  /** One try at an outbox line: the data channel when open, else the server. */
  private async trySend(entry: OutgoingChat): Promise<void> {
    entry.lastTry = Date.now();
    const { message } = entry;
    if (this.chatPath?.trySend(message)) return; // acknowledged by the peers, or tried again
    if (this.signaling.state !== 'connected' || this.phase.value !== 'joined') return; // tried again after the rejoin
    try {
      await this.signaling.request<'ack'>({ type: 'chat', messageId: message.id, text: message.text });
      this.chatDelivered(message.id);
    } catch (err) {
      if (err instanceof SignalingError && err.code === 'SOCKET_CLOSED') return; // tried again after the rejoin
      this.outbox.delete(message.id);
      this.markChat(message.id, { pending: false, failed: true });
      if (err instanceof SignalingError) this.notice.value = err.message;
    }
  }

  private retryOutbox(): void {
    const due = Date.now() - CHAT_RETRY_AFTER_MS;
    for (const entry of this.outbox.values()) if (entry.lastTry < due) void this.trySend(entry);
  }

  private stopOutbox(): void {
    if (this.outboxTimer) clearInterval(this.outboxTimer);
    this.outboxTimer = null;
  }

  private markChat(id: string, patch: Partial<ChatLine>): void {
    this.chat.value = this.chat.value.map((line) => (line.id === id ? { ...line, ...patch } : line));
    this.keepChat();
  }

  private keepChat(): void {
    storage.setChat(this.meetingId, this.chat.value.filter((l) => !l.failed).map(({ pending: _p, failed: _f, ...line }) => line));
  }

  private onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'participant-joined':
        this.others.value = [...this.others.value.filter((p) => p.id !== message.participant.id), message.participant];
        break;
      case 'participant-left':
        this.others.value = this.others.value.filter((p) => p.id !== message.participantId);
        break;
      case 'participant-media':
        this.others.value = this.others.value.map((p) =>
          p.id === message.participantId ? { ...p, audio: message.audio, video: message.video, screen: message.screen } : p,
        );
        break;
      case 'chat':
        this.receiveChat(message.message);
        break;
      case 'meeting-closed':
        this.phase.value = 'closed';
        this.notice.value = message.message;
        storage.forgetMeeting(this.meetingId);
        if (message.reason === 'cancelled') storage.forgetCreatorToken(this.meetingId);
        this.stopOutbox();
        this.signaling.close();
        break;
      case 'topology':
        if (this.phase.value === 'joined' && message.mode !== this.mode.value) {
          this.pathNews.value = { text: describePathChange(message.mode, message.target, message.reason), at: Date.now() };
        }
        this.mode.value = message.mode;
        break;
      case 'muted-by-host':
        this.notice.value = `${message.by} turned your microphone off. You can turn it on again.`;
        break;
      case 'removed-by-host':
        this.phase.value = 'closed';
        this.notice.value = message.message;
        storage.forgetMeeting(this.meetingId);
        this.stopOutbox();
        this.signaling.close();
        break;
      case 'recording':
        this.recording.value = message.active;
        this.pathNews.value = {
          text: message.active
            ? `${message.by} started recording the meeting's audio: while it records, media goes through the server relay.`
            : `${message.by === 'the server' ? 'The recording stopped' : `${message.by} stopped the recording`}.`,
          at: Date.now(),
        };
        break;
      case 'meeting-lock':
        this.locked.value = message.locked;
        this.pathNews.value = { text: message.locked ? `${message.by} locked the meeting: nobody new can join.` : `${message.by} unlocked the meeting.`, at: Date.now() };
        break;
      case 'server-restarting':
        this.notice.value = 'The server is restarting; reconnecting…';
        break;
      case 'error':
        // Not a reply (no id): a fire-and-forget message the server did not take, e.g.
        // `relay-view` on a server that predates it. Nothing the person can act on: logged.
        if (message.id === undefined && (message.code === 'BAD_MESSAGE' || message.code === 'UNKNOWN_MESSAGE_TYPE')) {
          console.warn(`the server refused a message: ${message.code} (${message.message})`);
          break;
        }
        this.notice.value = message.message;
        break;
      default:
        break; // media messages: handled by the media engine's subscription
    }
    for (const listener of this.listeners) listener(message);
  }
}

/** "Moving to the server relay (3 participants)…" */
function describePathChange(mode: TopologyMode, target: 'p2p' | 'relay', reason: string | undefined): string {
  const why = reason ? ` (${reason})` : '';
  if (mode === 'switching') return target === 'relay' ? `Moving to the server relay${why}…` : `Moving to a direct connection${why}…`;
  return mode === 'relay' ? `Media now goes through the server relay${why}.` : `Media now goes directly between you${why}.`;
}
