/**
 * The operator dashboard (`/admin`): a login form until the server accepts the token, then
 * the node's state, asked for every few seconds (`GET /admin/api/state`); the charts keep
 * the server's window of samples, adding the new ones each time.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AdminSample, AdminState } from '../../protocol/admin';
import { AdminApiError, fetchState, login, logout } from './adminApi';
import { Dashboard } from './Dashboard';
import './admin.css';

type View = { kind: 'loading' } | { kind: 'login'; error: string | null } | { kind: 'dashboard'; state: AdminState; samples: AdminSample[] };

function LoginForm(props: { error: string | null; onLogin: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <main class="admin login">
      <form
        data-testid="admin-login"
        onSubmit={(e) => {
          e.preventDefault();
          if (token) props.onLogin(token);
        }}
      >
        <h1>MeetMesh server</h1>
        <label>
          Admin token
          <input data-testid="admin-token" type="password" autoComplete="current-password" value={token} autoFocus onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <button type="submit">Log in</button>
        {props.error && <p class="error" data-testid="admin-login-error">{props.error}</p>}
      </form>
    </main>
  );
}

function App() {
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [session, setSession] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let samples: AdminSample[] = [];
    const poll = async () => {
      try {
        const since = samples.at(-1)?.at ?? 0;
        const state = await fetchState(since);
        if (stopped) return;
        samples = [...samples, ...state.samples].filter((s) => s.at >= Date.now() - state.node.windowMs);
        setView({ kind: 'dashboard', state, samples });
        timer = window.setTimeout(poll, state.node.sampleMs);
      } catch (err) {
        if (stopped) return;
        if (err instanceof AdminApiError && err.code === 'ADMIN_TOKEN_REQUIRED') {
          setView({ kind: 'login', error: null });
          return;
        }
        // The server restarting, or the network: keep the last picture and try again.
        timer = window.setTimeout(poll, 5000);
      }
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [session]);

  switch (view.kind) {
    case 'loading':
      return <main class="admin"><p>Loading…</p></main>;
    case 'login':
      return (
        <LoginForm
          error={view.error}
          onLogin={(token) => {
            login(token).then(
              () => setSession((n) => n + 1),
              (err: unknown) => setView({ kind: 'login', error: err instanceof Error ? err.message : String(err) }),
            );
          }}
        />
      );
    case 'dashboard':
      return <Dashboard state={view.state} samples={view.samples} onLogout={() => void logout().then(() => setSession((n) => n + 1))} />;
  }
}

render(<App />, document.getElementById('admin')!);
