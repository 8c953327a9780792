/** The meeting room: header with the badge, the media area, people and chat, controls. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ChatPanel } from './ChatPanel';
import { ParticipantList } from './ParticipantList';
import { RoomSession, type BadgeMode } from './RoomSession';
import { TopologyBadge } from './TopologyBadge';

export function Room(props: { meetingId: string; name: string; onExit: () => void }) {
  const session = useMemo(() => new RoomSession(props.meetingId, props.name), [props.meetingId, props.name]);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    void session.join();
    const leaveOnUnload = () => session.leave();
    window.addEventListener('pagehide', leaveOnUnload);
    return () => {
      window.removeEventListener('pagehide', leaveOnUnload);
      session.leave();
    };
  }, [session]);

  const phase = session.phase.value;
  const others = session.others.value;
  const badge: BadgeMode = phase !== 'joined' || others.length === 0 ? 'waiting' : session.mode.value;

  return (
    <main class="room">
      <header class="room-header">
        <h1>{session.title.value || 'Meeting'}</h1>
        <TopologyBadge mode={badge} />
      </header>
      {session.notice.value && (
        <p data-testid="room-notice" class={`notice notice-${phase}`} role="status">
          {session.notice.value}
          {phase !== 'joined' && phase !== 'joining' && (
            <button class="link" onClick={props.onExit}>
              Back to the lobby
            </button>
          )}
        </p>
      )}
      <div class="room-body">
        <section class="stage" aria-label="Videos">
          {phase === 'joining' && <p class="muted">Joining…</p>}
          {phase === 'joined' && others.length === 0 && (
            <p class="muted">
              You are the only one here. Share this link: <code>{location.origin}/m/{props.meetingId}</code>
            </p>
          )}
        </section>
        <aside class="side">
          <ParticipantList self={session.self.value} others={others} />
          <ChatPanel session={session} />
        </aside>
      </div>
      <footer class="controls">
        {phase === 'joined' && (
          <button data-testid="leave-meeting" class="danger" onClick={() => { session.leave(); props.onExit(); }}>
            Leave
          </button>
        )}
        {phase === 'joined' && session.isCreator.value && !confirming && (
          <button data-testid="cancel-meeting" onClick={() => setConfirming(true)}>
            Cancel meeting
          </button>
        )}
        {confirming && (
          <span class="confirm">
            End the meeting for everyone?
            <button data-testid="confirm-cancel" class="danger" onClick={() => { setConfirming(false); void session.cancel(); }}>
              Yes, cancel it
            </button>
            <button onClick={() => setConfirming(false)}>No</button>
          </span>
        )}
      </footer>
    </main>
  );
}
