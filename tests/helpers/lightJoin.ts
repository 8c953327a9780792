/** A light participant (bench/harness/LightClient.ts) joining a test server's meeting, on loopback. */
import { LightClient } from '../../bench/harness/LightClient';
import { opusTone, type RecordedVideo } from '../../bench/harness/preEncoded';
import type { TestServer } from './server';

/** Joins `name` with a microphone playing `hz` (null: an open, silent one) and `camera` (null: off). */
export function joinLight(server: TestServer, meetingId: string, name: string, hz: number | null, camera: RecordedVideo | null): Promise<LightClient> {
  return LightClient.join({
    wsUrl: server.wsUrl,
    meetingId,
    name,
    mic: hz === null ? opusTone(440, 0) : opusTone(hz),
    camera,
    origin: server.url,
    bindAddress: '127.0.0.1',
  });
}
