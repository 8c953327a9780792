/**
 * A participant of a relay meeting for integration tests: our real `/ws` protocol on a
 * `TestSocket`, media through a headless libwebrtc client (`WrtcClient`) connected to the
 * server's relay. Its slot tables and the relay's candidates are applied as they come.
 */
import type { ServerMessage } from '../../protocol/signaling';
import { WrtcClient } from './wrtcClient';
import { TestSocket } from './wsClient';

const ANSWER_MS = 15_000;

export interface RelayMember {
  socket: TestSocket;
  /** The media connection now (replaced by `reconnect`). */
  client: WrtcClient;
  /** Offers again on a new connection, as a browser does after `relay-closed`. */
  reconnect(): Promise<void>;
  close(): void;
}

/** Joins `meetingId` as `name` (camera luma `luma`) and brings its relay connection up. */
export async function joinRelay(wsUrl: string, meetingId: string, name: string, luma: number): Promise<RelayMember> {
  const socket = await TestSocket.connect(wsUrl);
  await socket.join(meetingId, name);
  socket.send({ type: 'media-state', audio: true, video: true });
  const member: RelayMember = {
    socket,
    client: await offer(socket, new WrtcClient({ luma })),
    async reconnect() {
      member.client.close();
      member.client = await offer(socket, new WrtcClient({ luma }));
    },
    close() {
      member.client.close();
      socket.close();
    },
  };
  // The relay's candidates and slot tables go to whichever connection is current.
  socket.ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as ServerMessage;
    if (message.type === 'relay-candidate') void member.client.addCandidate(message.candidate);
    if (message.type === 'relay-slots') member.client.setSlots(message.slots);
  });
  return member;
}

async function offer(socket: TestSocket, client: WrtcClient): Promise<WrtcClient> {
  client.onCandidate = (candidate) => socket.send({ type: 'relay-candidate', candidate });
  const id = socket.request({ type: 'relay-offer', sdp: await client.createOffer() });
  const reply = await socket.reply(id, ANSWER_MS);
  if (reply.type !== 'relay-answer') {
    client.close();
    throw Object.assign(new Error(`relay offer refused: ${JSON.stringify(reply)}`), { reply });
  }
  await client.acceptAnswer(reply.sdp);
  return client;
}
