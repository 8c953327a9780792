/**
 * The child of ProxyProcess: one UdpImpairProxy (options in argv[2], JSON), driven over IPC.
 * It ends when its proxy is closed or its parent goes away.
 */
import type { ProxyReply, ProxyRequest } from './ProxyProcess';
import { UdpImpairProxy, type UdpImpairProxyOptions } from './UdpImpairProxy';

const reply = (message: ProxyReply): void => {
  process.send?.(message);
};

try {
  const options = JSON.parse(process.argv[2] ?? '{}') as UdpImpairProxyOptions;
  const proxy = await UdpImpairProxy.start(options);
  process.on('disconnect', () => void proxy.close().then(() => process.exit(0)));
  process.on('message', (request: ProxyRequest) => {
    switch (request.op) {
      case 'set':
        proxy.set(request.impairment, request.direction);
        reply({ id: request.id });
        break;
      case 'counters':
        reply({ id: request.id, counters: proxy.counters() });
        break;
      case 'resetCounters':
        proxy.resetCounters();
        reply({ id: request.id });
        break;
      case 'close':
        // Exits once the reply is on its way (the parent waits for the exit).
        void proxy.close().then(() => process.send?.({ id: request.id } satisfies ProxyReply, () => process.exit(0)));
        break;
    }
  });
  reply({ op: 'listening', ...proxy.address });
} catch (error) {
  reply({ op: 'failed', error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
