/** The lobby: who you are, create a meeting, or join one from the live list. */
import { useEffect, useState } from 'preact/hooks';
import type { MeetingSummary } from '../../protocol/rest';
import { LIMITS } from '../../protocol/limits';
import { createMeeting, listMeetings } from '../api';
import { storage } from '../storage';

const LIST_REFRESH_MS = 2000;

const MODE_LABEL: Record<MeetingSummary['mode'], string> = { p2p: 'P2P', relay: 'Relay', switching: 'Switching' };

export function Lobby(props: { onEnter: (meetingId: string, name: string) => void }) {
  const [name, setName] = useState(storage.name());
  const [title, setTitle] = useState('');
  const [alwaysRelay, setAlwaysRelay] = useState(false);
  const [unlisted, setUnlisted] = useState(false);
  const [meetings, setMeetings] = useState<MeetingSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let stopped = false;
    const refresh = () =>
      listMeetings().then(
        (list) => !stopped && setMeetings(list),
        () => !stopped && setError('Cannot reach the server; retrying…'),
      );
    refresh();
    const timer = setInterval(refresh, LIST_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  const needName = () => {
    if (name.trim()) return false;
    setError('Enter your name first.');
    document.querySelector<HTMLInputElement>('[data-testid="display-name"]')?.focus();
    return true;
  };

  const enter = (meetingId: string) => {
    if (needName()) return;
    storage.setName(name.trim());
    props.onEnter(meetingId, name.trim());
  };

  const create = async (event: Event) => {
    event.preventDefault();
    if (needName()) return;
    if (!title.trim()) {
      setError('Give the meeting a title.');
      return;
    }
    setBusy(true);
    try {
      const created = await createMeeting(title.trim(), alwaysRelay ? 'relay' : 'auto', !unlisted);
      storage.setCreatorToken(created.id, created.creatorToken);
      enter(created.id);
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Could not create the meeting.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="lobby">
      <header class="lobby-header">
        <h1>MeetMesh</h1>
        <p>Video meetings in the browser: direct between two people, through this server for three or more.</p>
      </header>
      <section class="card">
        <label>
          Your name
          <input
            data-testid="display-name"
            value={name}
            maxLength={LIMITS.nameMax}
            placeholder="e.g. Alice"
            autoComplete="name"
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
      </section>
      <form class="card" onSubmit={create}>
        <h2>New meeting</h2>
        <label>
          Title
          <input
            data-testid="meeting-title"
            value={title}
            maxLength={LIMITS.titleMax}
            placeholder="e.g. Weekly sync"
            onInput={(e) => setTitle(e.currentTarget.value)}
          />
        </label>
        <label class="check">
          <input type="checkbox" checked={alwaysRelay} onChange={(e) => setAlwaysRelay(e.currentTarget.checked)} />
          Always relay through the server (never show my address to peers)
        </label>
        <label class="check">
          <input data-testid="meeting-unlisted" type="checkbox" checked={unlisted} onChange={(e) => setUnlisted(e.currentTarget.checked)} />
          Unlisted (link only): not shown in the list below; share the room's link
        </label>
        <button data-testid="create-meeting" type="submit" disabled={busy}>
          Create and join
        </button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <section class="card">
        <h2>Meetings you can join</h2>
        <ul data-testid="meeting-list" class="meeting-list">
          {meetings === null && <li class="muted">Loading…</li>}
          {meetings?.length === 0 && <li class="muted">No meetings right now. Create one above.</li>}
          {meetings?.map((m) => (
            <li key={m.id} data-testid="meeting-item" data-meeting-id={m.id}>
              <div>
                <strong>{m.title}</strong>
                <span class="muted">
                  {m.participants} {m.participants === 1 ? 'person' : 'people'} · {MODE_LABEL[m.mode]}
                </span>
              </div>
              <button data-testid="join-meeting" onClick={() => enter(m.id)}>
                Join
              </button>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
