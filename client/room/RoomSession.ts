/**
 * One person's presence in one meeting: joins over signaling, keeps the participant list,
 * the chat (deduplicated by message id) and the notices, as signals the UI renders.
 * The media engine attaches to it; this file knows nothing about WebRTC.
 */
import { signal } from '@preact/signals';
import type { ChatMessage, IceServer, ParticipantInfo, ServerMessage } from '../../protocol/signaling';
import type { TopologyMode, TopologyPreference } from '../../protocol/rest';
import { cancelMeeting } from '../api';
import { attributePeerChat } from './peerChat';
import { SignalingClient, SignalingError } from '../signaling/SignalingClient';
import { storage } from '../storage';

export type RoomPhase = 'joining' | 'joined' | 'left' | 'closed' | 'failed';
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
  /** Sends the message on the path; false when the path cannot carry it right now. */
  trySend(message: ChatMessage): boolean;
}

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
  readonly topology = signal<TopologyPreference>('auto');
  readonly isCreator = signal(false);
  iceServers: IceServer[] = [];
  /** Set by the media engine while a P2P data channel is open. */
  chatPath: ChatPath | null = null;

  private readonly seenChatIds = new Set<string>();
  private readonly listeners = new Set<(message: ServerMessage) => void>();
  readonly signaling: SignalingClient;

  constructor(
    readonly meetingId: string,
    readonly name: string,
    signalingUrl = SignalingClient.urlForPage(),
  ) {
    this.signaling = new SignalingClient(signalingUrl);
    this.signaling.onMessage = (m) => this.onServerMessage(m);
    this.signaling.onClose = () => {
      if (this.phase.value === 'joined' || this.phase.value === 'joining') {
        this.phase.value = 'failed';
        this.notice.value ??= 'The connection to the server was lost.';
      }
    };
  }

  /** Every server message that is not a reply, for the media engine. */
  subscribe(listener: (message: ServerMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async join(): Promise<void> {
    try {
      const creatorToken = storage.creatorToken(this.meetingId);
      const joined = await this.signaling.request<'joined'>({
        type: 'join',
        meetingId: this.meetingId,
        name: this.name,
        ...(creatorToken ? { creatorToken } : {}),
      });
      this.self.value = joined.self;
      this.others.value = joined.participants;
      this.title.value = joined.meeting.title;
      this.topology.value = joined.meeting.topology;
      this.mode.value = joined.meeting.mode;
      this.isCreator.value = joined.self.isCreator;
      this.iceServers = joined.iceServers;
      this.phase.value = 'joined';
      // The media engine starts its paths from the join reply, before any later message.
      for (const listener of this.listeners) listener(joined);
    } catch (err) {
      this.phase.value = 'failed';
      this.notice.value = err instanceof Error ? err.message : 'Could not join the meeting.';
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
    if (this.chatPath?.trySend(message)) {
      this.markChat(message.id, { pending: false });
      return;
    }
    try {
      await this.signaling.request<'ack'>({ type: 'chat', messageId: message.id, text: trimmed });
      this.markChat(message.id, { pending: false });
    } catch (err) {
      this.markChat(message.id, { pending: false, failed: true });
      if (err instanceof SignalingError) this.notice.value = err.message;
    }
  }

  /** A chat line that arrived (from the server or a data channel); duplicates are dropped. */
  receiveChat(message: ChatMessage): void {
    if (this.seenChatIds.has(message.id)) return;
    this.seenChatIds.add(message.id);
    this.chat.value = [...this.chat.value, { ...message, own: false, pending: false }];
  }

  /** A chat line from a P2P data channel: shown under the name the meeting has for `peerId`. */
  receivePeerChat(peerId: string, message: ChatMessage): void {
    const attributed = attributePeerChat(message, peerId, this.others.value);
    if (attributed) this.receiveChat(attributed);
  }

  leave(): void {
    if (this.phase.value === 'left') return;
    this.signaling.send({ type: 'leave' });
    this.signaling.close();
    this.phase.value = 'left';
    this.notice.value = 'You left the meeting.';
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

  private markChat(id: string, patch: Partial<ChatLine>): void {
    this.chat.value = this.chat.value.map((line) => (line.id === id ? { ...line, ...patch } : line));
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
          p.id === message.participantId ? { ...p, audio: message.audio, video: message.video } : p,
        );
        break;
      case 'chat':
        this.receiveChat(message.message);
        break;
      case 'meeting-closed':
        this.phase.value = 'closed';
        this.notice.value = message.message;
        if (message.reason === 'cancelled') storage.forgetCreatorToken(this.meetingId);
        break;
      case 'topology':
        if (this.phase.value === 'joined' && message.mode !== this.mode.value) {
          this.pathNews.value = { text: describePathChange(message.mode, message.target, message.reason), at: Date.now() };
        }
        this.mode.value = message.mode;
        break;
      case 'error':
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
