/** The app: `/` is the lobby, `/m/<id>` a meeting (asks for a name unless `?name=` is given). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LIMITS } from '../protocol/limits';
import { Lobby } from './lobby/Lobby';
import { Room } from './room/Room';
import { storage } from './storage';

type Route = { page: 'lobby' } | { page: 'room'; meetingId: string; name: string | null };

/**
 * A host link (`/m/<id>#host=<token>`) makes this browser a host of the meeting: the
 * credential is kept like the creator's, and taken out of the address bar at once.
 */
function adoptHostLink(meetingId: string): void {
  const token = new URLSearchParams(location.hash.slice(1)).get('host');
  if (!token) return;
  storage.setCreatorToken(meetingId, token);
  history.replaceState(history.state, '', location.pathname + location.search);
}

function currentRoute(): Route {
  const match = /^\/m\/([^/]+)\/?$/.exec(location.pathname);
  if (!match) return { page: 'lobby' };
  adoptHostLink(decodeURIComponent(match[1]!));
  const name = new URLSearchParams(location.search).get('name');
  const state = history.state as { name?: string } | null;
  return { page: 'room', meetingId: decodeURIComponent(match[1]!), name: name?.trim() || state?.name || null };
}

function NamePrompt(props: { onName: (name: string) => void }) {
  const [name, setName] = useState(storage.name());
  return (
    <main class="lobby">
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (!name.trim()) return;
          storage.setName(name.trim());
          props.onName(name.trim());
        }}
      >
        <h2>Join the meeting</h2>
        <label>
          Your name
          <input data-testid="display-name" value={name} maxLength={LIMITS.nameMax} autoFocus onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button data-testid="join-meeting" type="submit" disabled={!name.trim()}>
          Join
        </button>
      </form>
    </main>
  );
}

function App() {
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const onPop = () => setRoute(currentRoute());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const go = (path: string, state: unknown = null) => {
    history.pushState(state, '', path);
    setRoute(currentRoute());
  };

  if (route.page === 'lobby') {
    return <Lobby onEnter={(id, name) => go(`/m/${encodeURIComponent(id)}`, { name })} />;
  }
  if (!route.name) {
    const named = (name: string) => {
      history.replaceState({ name }, '');
      setRoute({ ...route, name });
    };
    return <NamePrompt onName={named} />;
  }
  return <Room key={route.meetingId} meetingId={route.meetingId} name={route.name} onExit={() => go('/')} />;
}

render(<App />, document.getElementById('app')!);
