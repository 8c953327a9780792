/**
 * `npm start`: the whole system on one machine with embedded defaults — the coordinator
 * (HTTP API, signaling, built client), the media relay and the bundled TURN server.
 */
import { buildCoordinator } from '../coordinator/server';
import { configFromEnv } from '../coordinator/config';

const config = configFromEnv();
const coordinator = await buildCoordinator(config);
const url = await coordinator.start();
const shown = config.publicUrl ?? url;
console.log(`\n  Meetings are ready: open ${shown}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    coordinator.close().then(() => process.exit(0), () => process.exit(1));
  });
}
