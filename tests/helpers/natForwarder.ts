/**
 * The NAT box of the 1:1 NAT test, run as its own process inside the namespace standing for
 * the cloud's NAT: `node --import tsx tests/helpers/natForwarder.ts <public ip> <target ip>
 * <tcp port> <udp port>` forwards TCP (page, API, signaling) and UDP (one flow per client,
 * as a NAT mapping) from the public address to the server's private one, on the same ports.
 * Prints `ready` once both listen; each `counters` line on stdin is answered with the UDP
 * datagram counters as one JSON line.
 */
import { createInterface } from 'node:readline';
import { TcpProxy } from './TcpProxy';
import { UdpImpairProxy } from './UdpImpairProxy';

const [publicIp, targetIp, tcpPort, udpPort] = process.argv.slice(2);
if (!publicIp || !targetIp || !tcpPort || !udpPort) throw new Error('usage: natForwarder.ts <public ip> <target ip> <tcp port> <udp port>');

const web = await TcpProxy.start({ host: publicIp, port: Number(tcpPort), target: { host: targetIp, port: Number(tcpPort) } });
const media = await UdpImpairProxy.start({ host: publicIp, port: Number(udpPort), target: { address: targetIp, port: Number(udpPort) } });
process.stdout.write('ready\n');

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'counters') process.stdout.write(`${JSON.stringify(media.counters())}\n`);
});
input.on('close', () => {
  void Promise.all([web.close(), media.close()]).then(() => process.exit(0));
});
