/**
 * The media relay with real WebRTC: headless libwebrtc clients (@roamhq/wrtc) connect to a
 * werift MeetingRelay over loopback, signalled by calling the relay directly. Each client's
 * camera sends solid frames of its own luma, so a viewer can tell whose video a slot decodes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RTCPeerConnection as WeriftPeerConnection, useOPUS, useVP8 } from 'werift';
import { MeetingRelay, VIDEO_SLOTS, type AudioSink, type VideoSource } from '../../relay/MeetingRelay';
import { isVp8KeyframeStart } from '../../relay/vp8';
import { waitFor } from '../helpers/wait';
import { WrtcClient } from '../helpers/wrtcClient';

/** Decoded luma stays within a few levels of the sent one; lumas in a test differ by 30 or more. */
const LUMA_TOLERANCE = 12;
const CONNECT_MS = 10_000;
const KEYFRAME_BUDGET_MS = 3_000;

/**
 * Stand-in for the audio mixer: each participant hears the first other participant who
 * joined, packet for packet. It also notes every packet pushed, to spot duplicates.
 */
class ForwardingSink implements AudioSink {
  relay: MeetingRelay | undefined;
  readonly members: string[] = [];
  readonly muted = new Set<string>();
  readonly removed: string[] = [];
  readonly pushed = new Map<string, number>();
  duplicates = 0;
  private readonly seen = new Map<string, Set<number>>();

  addParticipant(id: string): void {
    this.members.push(id);
    this.seen.set(id, new Set());
  }

  removeParticipant(id: string): void {
    this.members.splice(this.members.indexOf(id), 1);
    this.removed.push(id);
  }

  pushPacket(id: string, seq: number, _timestamp: number, payload: Uint8Array): void {
    this.pushed.set(id, (this.pushed.get(id) ?? 0) + 1);
    const seen = this.seen.get(id);
    if (seen?.has(seq)) this.duplicates += 1;
    seen?.add(seq);
    for (const listener of this.members) {
      if (listener !== id && this.members.find((m) => m !== listener) === id) this.relay?.sendAudio(listener, payload);
    }
  }

  setMuted(id: string, muted: boolean): void {
    if (muted) this.muted.add(id);
    else this.muted.delete(id);
  }
}

/** One relay plus its clients, wired the way the coordinator wires them. */
class TestMeeting {
  readonly relay: MeetingRelay;
  readonly sink = new ForwardingSink();
  readonly clients = new Map<string, WrtcClient>();
  readonly lumas = new Map<string, number>();
  readonly screenLumas = new Map<string, number>();
  /** When each participant's `connected` event came. */
  readonly connected = new Map<string, number>();
  readonly flowing = new Set<string>();
  readonly closedEvents: string[] = [];

  constructor(readonly id: string) {
    this.relay = new MeetingRelay(id, this.sink, { hostAddresses: ['127.0.0.1'] });
    this.sink.relay = this.relay;
    this.relay
      .on('candidate', (pid, candidate) => void this.clients.get(pid)?.addCandidate(candidate))
      .on('slots', (pid, table) => this.clients.get(pid)?.setSlots(table))
      .on('connected', (pid) => this.connected.set(pid, performance.now()))
      .on('mediaFlowing', (pid) => this.flowing.add(pid))
      .on('closed', (pid) => this.closedEvents.push(pid));
    openMeetings.add(this);
  }

  /** Connects a client. `candidatesFirst` delivers all its ICE candidates before its offer. */
  async join(pid: string, luma: number, candidatesFirst = false, screenLuma?: number): Promise<WrtcClient> {
    const client = new WrtcClient(screenLuma === undefined ? { luma } : { luma, screenLuma });
    this.clients.set(pid, client);
    this.lumas.set(pid, luma);
    if (screenLuma !== undefined) this.screenLumas.set(pid, screenLuma);
    client.onCandidate = (candidate) => {
      this.relay.addCandidate(pid, candidate).catch((error: unknown) => console.error('addCandidate', error));
    };
    const offer = await client.createOffer();
    if (candidatesFirst) await client.iceGatheringComplete();
    await client.acceptAnswer(await this.relay.handleOffer(pid, offer));
    return client;
  }

  client(pid: string): WrtcClient {
    const client = this.clients.get(pid);
    if (!client) throw new Error(`no client ${pid}`);
    return client;
  }

  /** Waits until `viewer` decodes `count` more frames of `publisher`'s camera (or screen) luma on the mid named for it. */
  async seesVideo(viewer: string, publisher: string, count = 5, timeoutMs = CONNECT_MS, source: VideoSource = 'camera'): Promise<void> {
    const client = this.client(viewer);
    const luma = (source === 'screen' ? this.screenLumas : this.lumas).get(publisher) ?? -1;
    const matching = (): number | undefined => {
      const mid = client.midOf(publisher, source);
      if (mid === undefined) return undefined;
      const view = client.view(mid);
      return view.lastLuma !== undefined && Math.abs(view.lastLuma - luma) <= LUMA_TOLERANCE ? view.frames : undefined;
    };
    const start = await waitFor(matching, timeoutMs, `${viewer} to decode ${publisher}'s ${source}`);
    await waitFor(() => (matching() ?? 0) >= start + count, timeoutMs, `${viewer}'s frames of ${publisher}'s ${source} to advance`);
  }

  /** Waits until every client decodes every other client's video. */
  async allSeeEachOther(): Promise<void> {
    const ids = [...this.clients.keys()];
    await Promise.all(ids.flatMap((viewer) => ids.filter((p) => p !== viewer).map((p) => this.seesVideo(viewer, p))));
  }

  close(): void {
    this.relay.close();
    for (const client of this.clients.values()) client.close();
    openMeetings.delete(this);
  }
}

const openMeetings = new Set<TestMeeting>();

test.after.each(() => {
  for (const meeting of openMeetings) meeting.close();
});

test.after(() => {
  // Everything is closed now, so the event loop should drain within moments (see the end of
  // the file). If a socket or timer leaked instead, say so and fail rather than hang.
  setTimeout(() => {
    console.error('relay test leaked resources:', process.getActiveResourcesInfo());
    process.exit(1);
  }, 5000).unref();
});

test('three participants each see both others on the advertised slots, never themselves', async () => {
  const meeting = new TestMeeting('m-three');
  await meeting.join('alice', 40, true);
  await meeting.join('bob', 110);
  await meeting.join('carol', 180);
  await waitFor(() => meeting.connected.size === 3, CONNECT_MS, 'three connected events');

  await meeting.allSeeEachOther();
  for (const [pid, client] of meeting.clients) {
    const named = client.slotTable.filter((s) => s.participantId !== null).map((s) => s.participantId);
    assert.equal(named.sort(), [...meeting.clients.keys()].filter((p) => p !== pid).sort(), `${pid}'s slots`);
    assert.ok(client.slotHistory.every((table) => table.every((s) => s.participantId !== pid)), `${pid} was offered itself`);
    assert.is(client.framesWithLuma(meeting.lumas.get(pid) ?? -1, LUMA_TOLERANCE), 0, `${pid} decoded its own video`);
    assert.is(new Set(client.slotTable.map((s) => s.mid)).size, 8, 'one table entry per slot');
  }

  // The stand-in mixer hands each one the first other participant's mic: everyone hears a tone.
  await waitFor(() => [...meeting.clients.values()].every((c) => c.audibleChunks > 50), CONNECT_MS, 'audio at every client');
  assert.equal([...meeting.flowing].sort(), ['alice', 'bob', 'carol']);

  const counters = meeting.relay.counters();
  assert.ok(counters.packetsReceived > 0 && counters.bytesReceived > counters.packetsReceived, 'received counters');
  assert.ok(counters.packetsForwarded > 0 && counters.bytesForwarded > counters.packetsForwarded, 'forwarded counters');
  assert.ok(counters.plisSent > 0, 'keyframes were requested for the new viewers');
  await waitFor(() => meeting.relay.counters().packetsForwarded > counters.packetsForwarded, 2000, 'counters to grow');
  meeting.close();
});

test('camera off leaves every slot at once and stops the forward; camera on comes back within 3 s', async () => {
  const meeting = new TestMeeting('m-camera');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  const alice = meeting.client('alice');
  const carolMid = alice.midOf('carol') ?? '';

  // Carol's client keeps sending video: only the relay can stop what the others receive.
  meeting.relay.setPublishing('carol', { audio: true, video: false });
  assert.is(alice.midOf('carol'), undefined, 'carol left alice slots at once');
  assert.is(meeting.client('bob').midOf('carol'), undefined, 'carol left bob slots at once');
  const framesAtOff = alice.view(carolMid).frames;
  await meeting.seesVideo('alice', 'bob', 15);
  assert.ok(alice.view(carolMid).frames - framesAtOff <= 3, 'carol frames stopped (at most those in flight)');

  const onAt = performance.now();
  meeting.relay.setPublishing('carol', { audio: true, video: true });
  assert.ok(alice.midOf('carol') !== undefined, 'carol is back in alice slots at once');
  await meeting.seesVideo('alice', 'carol', 1, KEYFRAME_BUDGET_MS);
  await meeting.seesVideo('bob', 'carol', 1, KEYFRAME_BUDGET_MS);
  console.log(`    camera back on: frames again after ${Math.round(performance.now() - onAt)} ms`);
  meeting.close();
});

test('a shared screen takes its own slot at every other participant, forwarded as is; stopping the share empties it at once', async () => {
  const meeting = new TestMeeting('m-screen');
  await meeting.join('alice', 40);
  await meeting.join('bob', 110, false, 220);
  await meeting.join('carol', 180);
  await meeting.allSeeEachOther();
  assert.is(meeting.client('alice').midOf('bob', 'screen'), undefined, 'no screen slot before the share is announced');

  meeting.relay.setPublishing('bob', { audio: true, video: true, screen: true });
  await meeting.seesVideo('alice', 'bob', 5, CONNECT_MS, 'screen');
  await meeting.seesVideo('carol', 'bob', 5, CONNECT_MS, 'screen');
  const alice = meeting.client('alice');
  const screenMid = alice.midOf('bob', 'screen') ?? '';
  assert.ok(screenMid !== alice.midOf('bob', 'camera'), 'camera and screen in two slots');
  await meeting.seesVideo('alice', 'bob', 5);
  assert.is(meeting.client('bob').midOf('bob', 'screen'), undefined, 'never your own screen');

  meeting.relay.setPublishing('bob', { audio: true, video: true, screen: false });
  assert.is(alice.midOf('bob', 'screen'), undefined, 'the screen left alice slots at once');
  assert.is(meeting.client('carol').midOf('bob', 'screen'), undefined, 'the screen left carol slots at once');
  const framesAtStop = alice.view(screenMid).frames;
  await meeting.seesVideo('alice', 'bob', 15);
  assert.ok(alice.view(screenMid).frames - framesAtStop <= 3, 'screen frames stopped (at most those in flight)');
  meeting.close();
});

test('a removed participant disappears from everyone at once', async () => {
  const meeting = new TestMeeting('m-remove');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  const alice = meeting.client('alice');
  const bobMid = alice.midOf('bob') ?? '';

  meeting.relay.removeParticipant('bob');
  assert.is(alice.midOf('bob'), undefined, 'bob left alice slots');
  assert.is(meeting.client('carol').midOf('bob'), undefined, 'bob left carol slots');
  assert.equal(meeting.closedEvents, ['bob']);
  assert.equal(meeting.sink.removed, ['bob']);
  const framesAtRemoval = alice.view(bobMid).frames;
  await meeting.seesVideo('alice', 'carol', 15);
  await meeting.seesVideo('carol', 'alice', 15);
  assert.ok(alice.view(bobMid).frames - framesAtRemoval <= 3, 'bob frames stopped');
  meeting.relay.removeParticipant('bob'); // a second removal is a no-op
  assert.equal(meeting.closedEvents, ['bob']);
  meeting.close();
});

test("the relay names the UDP endpoints its connections listen on (for TURN's peer policy), and forgets a removed participant's", async () => {
  const meeting = new TestMeeting('m-endpoints');
  await meeting.join('alice', 40);
  const endpoints = meeting.relay.localUdpEndpoints();
  assert.ok(endpoints.some((e) => e.address === '127.0.0.1' && e.port > 0), JSON.stringify(endpoints));
  meeting.relay.removeParticipant('alice');
  assert.equal(meeting.relay.localUdpEndpoints(), []);
  meeting.close();
});

test('a late joiner decodes everyone within 3 s (keyframe requested for it)', async () => {
  const meeting = new TestMeeting('m-late');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  // Let the encoders run well past their opening keyframes.
  await meeting.seesVideo('alice', 'bob', 30);

  const joinedAt = performance.now();
  const dave = await meeting.join('dave', 230);
  await waitFor(() => meeting.connected.has('dave'), CONNECT_MS, 'dave to connect');
  const connectedAt = meeting.connected.get('dave') ?? 0;
  await Promise.all(['alice', 'bob', 'carol'].map((p) => meeting.seesVideo('dave', p, 1, KEYFRAME_BUDGET_MS)));
  const firstFrames = ['alice', 'bob', 'carol'].map((p) => (dave.view(dave.midOf(p) ?? '').firstFrameAt ?? Infinity) - connectedAt);
  console.log(
    `    late joiner: connected after ${Math.round(connectedAt - joinedAt)} ms,` +
      ` first frame of each publisher ${firstFrames.map(Math.round).join(', ')} ms later`,
  );
  assert.ok(firstFrames.every((ms) => ms < KEYFRAME_BUDGET_MS), 'first frames within the keyframe budget');
  for (const viewer of ['alice', 'bob', 'carol']) await meeting.seesVideo(viewer, 'dave', 1, KEYFRAME_BUDGET_MS);
  meeting.close();
});

test('a renegotiation does not subscribe twice to the same tracks', async () => {
  const meeting = new TestMeeting('m-renegotiate');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  const bob = meeting.client('bob');
  await bob.acceptAnswer(await meeting.relay.handleOffer('bob', await bob.renegotiate()));
  const pushedBefore = meeting.sink.pushed.get('bob') ?? 0;
  await waitFor(() => (meeting.sink.pushed.get('bob') ?? 0) > pushedBefore + 100, CONNECT_MS, 'bob audio after renegotiation');
  assert.is(meeting.sink.duplicates, 0, 'no packet reached the audio sink twice');
  await meeting.seesVideo('alice', 'bob', 10);
  await meeting.seesVideo('bob', 'carol', 10);
  meeting.close();
});

test('a viewer keyframe request sent under its own camera SSRC (as Chrome does) reaches the publisher', async () => {
  const meeting = new TestMeeting('m-pli');
  await meeting.join('alice', 40);
  // A werift client as the viewer, because it lets the test choose the RTCP sender SSRC.
  const viewer = new WeriftPeerConnection({
    codecs: { audio: [useOPUS()], video: [useVP8()] },
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    // One transport from the start: with werift's default policy each transceiver of an
    // offer gathers its own sockets, and close() only releases the bundled one.
    bundlePolicy: 'max-bundle',
  });
  try {
    viewer.onIceCandidate.subscribe((c) => {
      if (c) void meeting.relay.addCandidate('viewer', { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
    });
    viewer.addTransceiver('audio', { direction: 'sendrecv' });
    const camera = viewer.addTransceiver('video', { direction: 'sendonly' });
    const slots = Array.from({ length: VIDEO_SLOTS }, () => viewer.addTransceiver('video', { direction: 'recvonly' }));
    let table: { mid: string; participantId: string | null }[] = [];
    meeting.relay.on('slots', (pid, t) => {
      if (pid === 'viewer') table = t;
    });
    await viewer.setLocalDescription(await viewer.createOffer());
    const answer = await meeting.relay.handleOffer('viewer', viewer.localDescription?.sdp ?? '');
    await viewer.setRemoteDescription({ type: 'answer', sdp: answer });

    const mid = await waitFor(() => table.find((s) => s.participantId === 'alice')?.mid, CONNECT_MS, "alice's slot");
    const slot = slots.find((t) => t.mid === mid);
    if (!slot) throw new Error(`no viewer transceiver for mid ${mid}`);
    let keyframes = 0;
    let firstPacketAt = 0;
    let lastKeyframeAt = 0;
    for (const track of slot.receiver.tracks) {
      track.onReceiveRtp.subscribe((rtp) => {
        firstPacketAt ||= performance.now();
        if (!isVp8KeyframeStart(rtp.payload)) return;
        keyframes += 1;
        lastKeyframeAt = performance.now();
      });
    }
    // Alice's video reaching the viewer is what counts here, not that the first keyframe was
    // seen: the relay may send it the moment its own DTLS side is up, a few ms before the
    // viewer's is, and werift (unlike Chrome) neither NACKs nor asks for another.
    await waitFor(() => firstPacketAt > 0, CONNECT_MS, "alice's video at the viewer");
    // libwebrtc ignores keyframe requests within 300 ms of the last one: start from a quiet encoder.
    await waitFor(() => performance.now() - Math.max(firstPacketAt, lastKeyframeAt) > 600, 2000, 'alice to be past her last keyframe');
    const settled = keyframes;
    const before = meeting.relay.counters();
    const mediaSsrc = slot.receiver.track.ssrc ?? 0;
    slot.receiver.rtcpSsrc = camera.sender.ssrc; // Chrome's choice: its own camera's SSRC
    await slot.receiver.sendRtcpPLI(mediaSsrc);
    await waitFor(() => meeting.relay.counters().keyframeRequestsReceived > before.keyframeRequestsReceived, CONNECT_MS, 'the relay to see the PLI');
    await waitFor(() => keyframes > settled, KEYFRAME_BUDGET_MS, 'a new keyframe from alice at the viewer');
    assert.ok(meeting.relay.counters().plisSent > before.plisSent, 'the relay asked alice');
  } finally {
    await viewer.close();
    meeting.close();
  }
});

test('two meetings at once never cross', async () => {
  // Same participant ids in both: only the luma tells whose video arrives.
  const a = new TestMeeting('m-A');
  const b = new TestMeeting('m-B');
  const lumasA = [30, 70, 110];
  const lumasB = [150, 190, 230];
  const ids = ['alice', 'bob', 'carol'];
  for (let i = 0; i < ids.length; i++) {
    await a.join(ids[i]!, lumasA[i]!);
    await b.join(ids[i]!, lumasB[i]!);
  }
  await Promise.all([a.allSeeEachOther(), b.allSeeEachOther()]);
  for (const [meeting, foreign] of [[a, lumasB], [b, lumasA]] as const) {
    for (const client of meeting.clients.values()) {
      for (const luma of foreign) assert.is(client.framesWithLuma(luma, LUMA_TOLERANCE), 0, `${meeting.id} got foreign video`);
    }
  }

  // Closing one meeting leaves the other streaming.
  const bCounters = b.relay.counters();
  a.close();
  await b.seesVideo('alice', 'carol', 15);
  await b.seesVideo('carol', 'bob', 15);
  assert.ok(b.relay.counters().packetsForwarded > bCounters.packetsForwarded, 'meeting B still forwards');
  assert.equal(a.closedEvents.sort(), ['alice', 'bob', 'carol'], 'closing A closed its participants');
  assert.equal(b.closedEvents, [], 'B lost nobody');
  b.close();
});

test('bad calls fail with stable codes; a closed relay rejects offers and close() is idempotent', async () => {
  const meeting = new TestMeeting('m-errors');
  const codeOf = async (call: Promise<unknown>): Promise<string | undefined> => {
    try {
      await call;
      return undefined;
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  assert.is(await codeOf(meeting.relay.handleOffer('x', 'not sdp')), 'INVALID_OFFER', 'garbage offer');
  // An offer without the mic and camera m-lines the relay maps roles onto.
  const wrongLayout = new WrtcClient({ luma: 40 });
  try {
    wrongLayout.pc.addTransceiver('video', { direction: 'recvonly' });
    const offer = await wrongLayout.pc.createOffer();
    assert.is(await codeOf(meeting.relay.handleOffer('y', offer.sdp ?? '')), 'INVALID_OFFER', 'video-only offer');
  } finally {
    wrongLayout.close();
  }
  meeting.relay.close();
  meeting.relay.close();
  assert.is(await codeOf(meeting.relay.handleOffer('alice', 'v=0')), 'RELAY_CLOSED');
  assert.is(await codeOf(meeting.relay.addCandidate('alice', { candidate: '' })), 'RELAY_CLOSED');
  meeting.close();
});

test.run();

// @roamhq/wrtc's native module crashes (SIGSEGV, exit code 139) during Node's own teardown even
// after every peer connection and track is closed, which the test runner would count as a
// failure. Once the event loop is empty (uvu has printed its summary and set exitCode), exit
// explicitly with uvu's code, skipping that teardown.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));
