/**
 * A media worker: one `MediaHost` for the meetings the coordinator places here, driven
 * through the typed channel (`channel.ts`). It runs as a child process (node-datachannel's
 * addon serves one JavaScript thread per process); every message in is validated, and a bad
 * one is logged back and dropped, never acted on.
 */
import { performance } from 'node:perf_hooks';
import { releaseNativeRelay } from '../RelayPeer';
import { sharedWakeups } from '../audio/Wakeups';
import { decodeToWorker, type FromWorker } from './channel';
import { MediaHost, type LogLevel } from './MediaHost';
import { applyWorkerScheduling, RealtimeGuard } from './priority';

/** What the coordinator tells a worker at start (the second argument of the process). */
export interface WorkerSettings {
  logLevel: LogLevel;
}

/** The way to the coordinator: the parent process's IPC channel. */
interface Coordinator {
  post(message: FromWorker): void;
  onMessage(listener: (raw: unknown) => void): void;
  /** Lets this worker end once its last work (recordings being flushed) is done. */
  end(): void;
}

function coordinator(): { link: Coordinator; settings: WorkerSettings } {
  if (!process.send) throw new Error('mediaWorker.ts runs only as a forked process');
  const send = process.send.bind(process);
  // Messages written but not yet handed to the channel; the channel closes after the last.
  let inFlight = 0;
  let ending = false;
  const disconnectWhenSent = (): void => {
    if (ending && inFlight === 0 && process.connected) process.disconnect();
  };
  return {
    settings: JSON.parse(process.argv[3] ?? '{}') as WorkerSettings,
    link: {
      // The coordinator may be gone (killed): then nothing is sent, and no 'error' event (it
      // would be unhandled) is raised for a message in flight.
      post: (m) => {
        if (!process.connected) return;
        inFlight += 1;
        send(m, undefined, {}, () => {
          inFlight -= 1;
          disconnectWhenSent();
        });
      },
      onMessage: (l) => process.on('message', l),
      // After the last figures went out; the 'disconnect' handler below then releases the native threads.
      end: () => {
        ending = true;
        disconnectWhenSent();
      },
    },
  };
}

const { link, settings } = coordinator();
// First, so the threads libdatachannel starts later inherit it: the mix leaves on time on a busy machine.
const scheduling = applyWorkerScheduling(process.env.MEDIA_WORKER_REALTIME !== '0');
if (scheduling.kind !== 'realtime') {
  link.post({ type: 'log', level: 'info', msg: `media worker scheduling: ${scheduling.kind === 'nice' ? `nice ${scheduling.nice}` : 'ordinary'} (grant CAP_SYS_NICE for real-time mix timing)`, details: { why: scheduling.why ?? '' } });
}
// Started from the main thread once it has its scheduling, so the wakeup thread inherits it.
sharedWakeups().start();
const realtimeGuard = new RealtimeGuard(scheduling, (why) => link.post({ type: 'log', level: 'warn', msg: `media worker left real-time scheduling: ${why}`, details: {} }));
let lastElu = performance.eventLoopUtilization();
setInterval(() => {
  const now = performance.eventLoopUtilization();
  realtimeGuard.observe(performance.eventLoopUtilization(now, lastElu).utilization);
  lastElu = now;
}, 1000).unref();
const host = new MediaHost((m) => link.post(m), settings.logLevel ?? 'info', true);
link.onMessage((raw) => {
  let message;
  try {
    message = decodeToWorker(raw);
  } catch (err) {
    link.post({ type: 'log', level: 'error', msg: 'media worker refused a message', details: { error: String(err) } });
    return;
  }
  host.handle(message);
  // Nothing else keeps the worker alive: it ends once the last recordings are flushed.
  if (message.type === 'shutdown') link.end();
});
// A process whose coordinator is gone (killed, crashed) ends with it.
process.on('disconnect', () => {
  host.close();
  releaseNativeRelay();
});
