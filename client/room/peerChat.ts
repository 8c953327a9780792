/**
 * Who said a chat line that came over a P2P data channel. The line's own `from` and `name`
 * are whatever the sending browser typed into it; the only trustworthy facts are which
 * peer's channel carried it and the meeting's participant list (from the server). So both
 * are replaced by what the list says for that peer, and a line from a peer not in the list
 * is dropped.
 */
import type { ChatMessage, ParticipantInfo } from '../../protocol/signaling';

/** The line as the meeting knows its sender, or undefined when `peerId` is not a member. */
export function attributePeerChat(
  message: ChatMessage,
  peerId: string,
  participants: readonly Pick<ParticipantInfo, 'id' | 'name'>[],
): ChatMessage | undefined {
  const sender = participants.find((p) => p.id === peerId);
  if (!sender) return undefined;
  return { ...message, from: sender.id, name: sender.name };
}
