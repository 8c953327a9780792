/** Stopping a helper process a test started (coturn, the PulseAudio of a Firefox). */
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL if it has not exited within 3 s; resolves once it has exited. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
