// A media worker process's first module: it does not inherit tsx's loader from the
// coordinator, so register it here, then load the TypeScript entry named by the coordinator
// (the process's first argument).
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
