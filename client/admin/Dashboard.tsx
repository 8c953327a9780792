/** The node at a glance: its meetings, its media workers, the deployment's nodes, and 15 minutes of charts. */
import type { AdminSample, AdminState } from '../../protocol/admin';
import { bitrate } from '../format';
import { Chart, seriesColor } from './Chart';

const bytes = (n: number | null) => (n === null ? '–' : `${Math.round(n / 2 ** 20)} MiB`);
const percent = (x: number | null) => (x === null ? '–' : `${Math.round(x * 100)}%`);

/** The charts' columns: time (Unix s) first, then one per series. */
function columns(samples: AdminSample[], pick: Array<(s: AdminSample) => number>): [number[], ...number[][]] {
  return [samples.map((s) => s.at / 1000), ...pick.map((f) => samples.map(f))];
}

export function Dashboard(props: { state: AdminState; samples: AdminSample[]; onLogout: () => void }) {
  const { state, samples } = props;
  const workerCount = Math.max(0, ...samples.map((s) => s.workerCpuCores.length));
  const cpuSeries = [{ label: 'coordinator', color: seriesColor(0) }, ...Array.from({ length: workerCount }, (_, i) => ({ label: `worker ${i}`, color: seriesColor(i + 1) }))];
  return (
    <main class="admin">
      <header>
        <h1>
          MeetMesh server <span class="node-id" data-testid="admin-node-id">{state.node.id}</span>
        </h1>
        <button type="button" onClick={props.onLogout}>Log out</button>
      </header>

      {state.nodes.length > 0 && (
        <section>
          <h2>Nodes of this deployment</h2>
          <table data-testid="admin-nodes">
            <thead><tr><th>node</th><th>meetings</th><th>participants</th><th>relay load</th><th /></tr></thead>
            <tbody>
              {state.nodes.map((n) => (
                <tr key={n.id} data-testid="admin-node" data-node-id={n.id} class={n.self ? 'self' : ''}>
                  <td>{n.id}{n.self ? ' (this one)' : ''}</td>
                  <td>{n.meetings}</td>
                  <td>{n.participants}</td>
                  <td>{percent(n.relayLoad)}</td>
                  <td>{n.self ? '' : <a data-testid="admin-node-link" href={n.dashboardUrl}>its dashboard</a>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      <section>
        <h2>Meetings ({state.meetings.length})</h2>
        <table data-testid="admin-meetings">
          <thead><tr><th>meeting</th><th>path</th><th>participants</th><th>relay bitrate</th><th>recording</th></tr></thead>
          <tbody>
            {state.meetings.length === 0 && <tr><td colSpan={5} class="empty">No open meetings.</td></tr>}
            {state.meetings.map((m) => (
              <tr key={m.id} data-testid="admin-meeting" data-meeting-id={m.id} data-mode={m.mode} data-bitrate={m.relayBitrateBps}>
                <td>{m.title} <span class="id">{m.id}</span></td>
                <td><span class={`mode mode-${m.mode}`}>{m.mode}</span></td>
                <td>{m.participants}</td>
                <td>{bitrate(m.relayBitrateBps)}</td>
                <td>{m.recording ? '● recording' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section>
        <h2>Media workers</h2>
        <table data-testid="admin-workers">
          <thead><tr><th>worker</th><th>meetings</th><th>relay connections</th><th>CPU</th><th>memory</th><th>event loop</th><th>starts</th></tr></thead>
          <tbody>
            <tr data-testid="admin-coordinator">
              <td>coordinator</td><td /><td /><td>{percent(state.coordinator.cpuCores)}</td><td>{bytes(state.coordinator.rssBytes)}</td><td /><td />
            </tr>
            {state.workers.map((w) => (
              <tr key={w.index} data-testid="admin-worker" data-worker={w.index}>
                <td>{w.index}{w.cpuCores === null ? ' (main thread)' : w.starts === 0 ? ' (not started yet)' : ''}</td>
                <td>{w.meetings}</td>
                <td>{w.participants}</td>
                <td>{percent(w.cpuCores)}</td>
                <td>{bytes(w.rssBytes)}</td>
                <td>{percent(w.utilization)}</td>
                <td>{w.starts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section class="charts">
        <h2>Last {Math.round(state.node.windowMs / 60_000)} minutes</h2>
        <Chart
          testId="chart-participants"
          title="Participants by path"
          series={[{ label: 'P2P', color: seriesColor(1) }, { label: 'relay', color: seriesColor(0) }]}
          data={columns(samples, [(s) => s.p2pParticipants, (s) => s.relayParticipants])}
        />
        <Chart
          testId="chart-bitrate"
          title="Relay bitrate (sent)"
          series={[{ label: 'sent', color: seriesColor(0) }]}
          data={columns(samples, [(s) => s.relayBitrateBps])}
          format={bitrate}
        />
        <Chart
          testId="chart-cpu"
          title="CPU (100% = one core)"
          series={cpuSeries}
          data={columns(samples, [(s) => s.coordinatorCpuCores, ...Array.from({ length: workerCount }, (_, i) => (s: AdminSample) => s.workerCpuCores[i] ?? 0)])}
          format={(x) => `${Math.round(x * 100)}%`}
        />
        <Chart
          testId="chart-late-ticks"
          title="Late mixer ticks (per sample)"
          series={[{ label: 'late ticks', color: seriesColor(2) }]}
          data={columns(samples, [(s) => s.lateTicks])}
        />
      </section>
    </main>
  );
}
