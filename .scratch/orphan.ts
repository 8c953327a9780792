import { ServerProcess } from '../bench/harness/ServerProcess';
import { descendantPids } from '../bench/harness/cpu';
import { LightClient } from '../bench/harness/LightClient';
import { releaseNativePeers } from '../bench/harness/LightPeer';
import { opusTone } from '../bench/harness/preEncoded';
const server = await ServerProcess.start();
const id = await server.createRelayMeeting('orphan');
const c = await LightClient.join({ wsUrl: server.wsUrl, meetingId: id, name: 'x', mic: opusTone(300), camera: null, origin: server.url, bindAddress: '127.0.0.1' });
const kids = descendantPids(server.pid);
console.log('server', server.pid, 'children', kids);
process.kill(server.pid, 'SIGKILL');
await new Promise((r) => setTimeout(r, 3000));
for (const k of kids) { let alive = true; try { process.kill(k, 0); } catch { alive = false; } console.log('child', k, alive ? 'STILL ALIVE' : 'gone'); }
c.close(); releaseNativePeers(); process.exit(0);
