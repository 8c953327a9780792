// A media worker's first module, in a worker thread or a child process: neither inherits
// tsx's loader from the coordinator, so register it here, then load the TypeScript entry
// named by the coordinator (in `workerData` for a thread, the first argument for a process).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData?.entry ?? process.argv[2]);
