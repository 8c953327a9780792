/** The chat: every line shows who sent it and when; new lines scroll into view. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { LIMITS } from '../../protocol/limits';
import { chatTime } from '../format';
import type { RoomSession } from './RoomSession';

export function ChatPanel({ session }: { session: RoomSession }) {
  const [draft, setDraft] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const lines = session.chat.value;
  // While reconnecting, lines wait in the session's outbox and go out after the rejoin.
  const canSend = session.phase.value === 'joined' || session.phase.value === 'reconnecting';

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }, [lines.length]);

  const send = (event: Event) => {
    event.preventDefault();
    if (!draft.trim() || !canSend) return;
    void session.sendChat(draft);
    setDraft('');
  };

  return (
    <section class="chat" aria-label="Chat">
      <ol class="chat-lines" ref={list}>
        {lines.length === 0 && <li class="muted">No messages yet.</li>}
        {lines.map((line) => (
          <li
            key={line.id}
            data-testid="chat-message"
            class={`chat-line${line.own ? ' own' : ''}${line.pending ? ' pending' : ''}${line.failed ? ' failed' : ''}`}
          >
            <div class="chat-meta">
              <span data-testid="chat-sender">{line.own ? `${line.name} (you)` : line.name}</span>
              <time data-testid="chat-time" dateTime={line.at} title={new Date(line.at).toLocaleString()}>
                {chatTime(line.at)}
              </time>
            </div>
            <p data-testid="chat-text">{line.text}</p>
            {line.failed && <small class="error">Not delivered</small>}
          </li>
        ))}
      </ol>
      <form class="chat-form" onSubmit={send}>
        <input
          data-testid="chat-input"
          value={draft}
          maxLength={LIMITS.chatTextMax}
          placeholder={canSend ? 'Message everyone' : 'Chat is closed'}
          disabled={!canSend}
          aria-label="Chat message"
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button data-testid="chat-send" type="submit" disabled={!canSend || !draft.trim()}>
          Send
        </button>
      </form>
    </section>
  );
}
