/**
 * A media worker thread: one `MediaHost` for the meetings the coordinator places here,
 * driven through the typed channel (`channel.ts`). Every message in is validated; a bad one
 * is logged back and dropped, never acted on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeToWorker, type FromWorker } from './channel';
import { MediaHost, type LogLevel } from './MediaHost';

const port = parentPort;
if (!port) throw new Error('mediaWorker.ts runs only as a worker thread');

const post = (message: FromWorker): void => port.postMessage(message);
const host = new MediaHost(post, (workerData as { logLevel?: LogLevel }).logLevel ?? 'info');
port.on('message', (raw: unknown) => {
  let message;
  try {
    message = decodeToWorker(raw);
  } catch (err) {
    post({ type: 'log', level: 'error', msg: 'media worker refused a message', details: { error: String(err) } });
    return;
  }
  host.handle(message);
  // Nothing else keeps the thread alive: it ends once the last recordings are flushed.
  if (message.type === 'shutdown') port.close();
});
