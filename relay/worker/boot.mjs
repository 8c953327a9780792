// A media worker's first module: worker threads do not inherit tsx's loader from the main
// thread, so register it here, then load the TypeScript entry named by the coordinator.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
