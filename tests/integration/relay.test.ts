/**
 * The media relay with real WebRTC: headless libwebrtc clients (@roamhq/wrtc) connect to a
 * MeetingRelay (node-datachannel, in this process) over loopback, signalled by calling the
 * relay directly. Each client's camera sends solid frames of its own luma, so a viewer can
 * tell whose video a slot decodes. Where a test needs what a browser does not let it do
 * (write its own RTCP), the client is a node-datachannel peer (tests/helpers/nativeViewer.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MeetingRelay, type AudioSink, type SlotAssignment, type VideoSource } from '../../relay/MeetingRelay';
import { releaseNativeRelay } from '../../relay/RelayPeer';
import { NativeViewer } from '../helpers/nativeViewer';
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
  /** Per participant: the sequence number and payload size of every packet pushed. */
  readonly packets = new Map<string, Array<[seq: number, bytes: number]>>();
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
    if (!this.packets.has(id)) this.packets.set(id, []);
    this.packets.get(id)!.push([seq, payload.length]);
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

  /**
   * Asserts that `viewer`'s slot `mid` shows no more frames once the relay stopped it: what was
   * in flight (sent, queued in the decoder, retransmitted on a NACK) drains while `other`'s video
   * advances, then a second stretch of `other`'s frames passes without one on `mid`.
   */
  async assertSlotStopped(viewer: string, mid: string, other: string, what: string): Promise<void> {
    const view = () => this.client(viewer).view(mid).frames;
    const atStop = view();
    await this.seesVideo(viewer, other, 15);
    const drained = view();
    await this.seesVideo(viewer, other, 15);
    assert.is(view(), drained, `${what} stopped (${drained - atStop} frames were in flight)`);
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

/** The code of the RelayError a call rejects with (undefined when it resolves). */
async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

test.after.each(() => {
  for (const meeting of openMeetings) meeting.close();
});

test.after(() => {
  // Ends libdatachannel's threads and its callbacks into JavaScript (the relay's and the native viewer's: one addon).
  releaseNativeRelay();
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

test("a view with resync (the client's signaling came back) gets the slot table again, unchanged; a plain view never repeats one", async () => {
  const meeting = new TestMeeting('m-resync');
  await meeting.join('alice', 40);
  await meeting.join('bob', 110);
  await meeting.allSeeEachOther();
  const alice = meeting.client('alice');
  const view = alice.slotTable.map((s) => ({ mid: s.mid, width: s.participantId === null ? 0 : 320, height: s.participantId === null ? 0 : 240 }));
  const before = alice.slotHistory.length;
  const last = JSON.stringify(alice.slotHistory.at(-1));
  meeting.relay.setView('alice', view);
  meeting.relay.setView('alice', view);
  assert.ok(alice.slotHistory.slice(before).every((table) => JSON.stringify(table) !== last), 'a plain view sent the same table again');
  const now = alice.slotHistory.length;
  meeting.relay.setView('alice', view, true);
  assert.is(alice.slotHistory.length, now + 1, 'the table is sent again at once');
  assert.equal(alice.slotHistory.at(-1), alice.slotHistory.at(-2), 'the same table as the last one sent');
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
  await meeting.assertSlotStopped('alice', carolMid, 'bob', "carol's frames");

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
  await meeting.assertSlotStopped('alice', screenMid, 'bob', "bob's screen frames");
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
  await meeting.assertSlotStopped('alice', bobMid, 'carol', "bob's frames");
  await meeting.seesVideo('carol', 'alice', 15);
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

test('a second offer on a live connection is refused with INVALID_OFFER, and the connection keeps forwarding', async () => {
  const meeting = new TestMeeting('m-reoffer');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  const bob = meeting.client('bob');
  // A browser's re-offer on the same transceivers (not applied locally: a client that is
  // refused rolls back, and the relay never sees the difference).
  const reoffer = (await bob.pc.createOffer()).sdp ?? '';
  assert.is(await codeOf(meeting.relay.handleOffer('bob', reoffer)), 'INVALID_OFFER');

  const pushedBefore = meeting.sink.pushed.get('bob') ?? 0;
  await waitFor(() => (meeting.sink.pushed.get('bob') ?? 0) > pushedBefore + 100, CONNECT_MS, 'bob audio after the refused offer');
  await meeting.seesVideo('alice', 'bob', 10);
  await meeting.seesVideo('bob', 'carol', 10);
  assert.is(meeting.sink.duplicates, 0, 'no packet reached the audio sink twice');
  assert.equal(meeting.closedEvents, [], 'nobody was closed');
  meeting.close();
});

test("a known participant's fresh offer after replaceParticipant (as the coordinator does) runs on a new connection: nothing doubled", async () => {
  const meeting = new TestMeeting('m-reload');
  for (const [pid, luma] of [['alice', 40], ['bob', 110], ['carol', 180]] as const) await meeting.join(pid, luma);
  await meeting.allSeeEachOther();
  // Bob reloads: his old client keeps sending meanwhile (it does not know yet), the new one
  // shows another luma so the viewers can tell which connection their frames come from.
  const oldBob = meeting.client('bob');
  try {
    assert.ok(meeting.relay.has('bob'));
    meeting.relay.replaceParticipant('bob'); // relay/worker/MediaHost.ts offer(): a known participant's offer is a fresh session
    assert.equal(meeting.closedEvents, ['bob']);
    const bob = await meeting.join('bob', 140);
    await meeting.allSeeEachOther();

    // Every mic packet bob's sink receives is one his new connection sent, once.
    const sentBefore = (await bob.rtpTotals()).audioOut.packets;
    const pushedBefore = meeting.sink.pushed.get('bob') ?? 0;
    await waitFor(() => (meeting.sink.pushed.get('bob') ?? 0) > pushedBefore + 100, CONNECT_MS, "bob's new audio");
    const pushed = (meeting.sink.pushed.get('bob') ?? 0) - pushedBefore;
    const sent = (await bob.rtpTotals()).audioOut.packets - sentBefore;
    // A few packets in flight when counting started, and libwebrtc's 50 ms stats cache; two connections would double it.
    assert.ok(pushed <= sent + 10, `${pushed} packets reached the sink, ${sent} were sent`);
    assert.is(meeting.sink.duplicates, 0, 'no packet reached the audio sink twice');

    // The old connection's video reaches nobody: alice's frames of bob are the new luma only.
    const alice = meeting.client('alice');
    const oldFrames = alice.framesWithLuma(110, LUMA_TOLERANCE);
    await meeting.seesVideo('alice', 'bob', 15);
    assert.is(alice.framesWithLuma(110, LUMA_TOLERANCE), oldFrames, "no frame of bob's old connection");
    assert.is(alice.slotTable.filter((s) => s.participantId === 'bob').length, 1, 'bob in one slot of alice');
  } finally {
    oldBob.close();
  }
  meeting.close();
});

test('a viewer keyframe request sent under its own camera SSRC (as Chrome does) reaches the publisher', async () => {
  const meeting = new TestMeeting('m-pli');
  await meeting.join('alice', 40);
  // A node-datachannel viewer, because it lets the test write the RTCP: the PLI's sender SSRC is
  // the viewer's own camera, which the relay's libdatachannel also knows (from the offer).
  const viewer = new NativeViewer('viewer', 0x5eed_0001);
  try {
    let table: SlotAssignment[] = [];
    meeting.relay
      .on('slots', (pid, t) => {
        if (pid === 'viewer') table = t;
      })
      .on('candidate', (pid, candidate) => {
        if (pid === 'viewer') viewer.addCandidate(candidate);
      });
    viewer.onCandidate = (candidate) => {
      meeting.relay.addCandidate('viewer', candidate).catch((error: unknown) => console.error('addCandidate', error));
    };
    viewer.accept(await meeting.relay.handleOffer('viewer', await viewer.offer()));

    const mid = await waitFor(() => table.find((s) => s.participantId === 'alice')?.mid, CONNECT_MS, "alice's slot");
    const received = viewer.reception(mid);
    // Alice's video reaching the viewer is what counts here, not that the first keyframe was
    // seen: the relay may send it the moment its own DTLS side is up, a few ms before the
    // viewer's is, and this viewer (unlike Chrome) neither NACKs nor asks for another.
    await waitFor(() => received.packets > 0, CONNECT_MS, "alice's video at the viewer");
    // libwebrtc ignores keyframe requests within 300 ms of the last one: start from a quiet encoder.
    await waitFor(() => performance.now() - Math.max(received.firstPacketAt ?? 0, received.lastKeyframeAt ?? 0) > 600, 5000, 'alice to be past her last keyframe');
    const settled = received.keyframes;
    const before = meeting.relay.counters();
    assert.ok(viewer.sendPli(mid), 'libdatachannel sent the PLI');
    await waitFor(() => meeting.relay.counters().keyframeRequestsReceived > before.keyframeRequestsReceived, CONNECT_MS, 'the relay to see the PLI');
    await waitFor(() => received.keyframes > settled, KEYFRAME_BUDGET_MS, 'a new keyframe from alice at the viewer');
    assert.ok(meeting.relay.counters().plisSent > before.plisSent, 'the relay asked alice');
  } finally {
    viewer.close();
    meeting.close();
  }
});

test("a mic's padding-only packets (a browser's estimator probing with no camera on) never reach the mixer, nor leave a gap in what it plays", async () => {
  const meeting = new TestMeeting('m-mic-padding');
  const talker = new NativeViewer('talker', 0x5eed_0100);
  try {
    meeting.relay.on('candidate', (pid, candidate) => {
      if (pid === 'talker') talker.addCandidate(candidate);
    });
    talker.onCandidate = (candidate) => {
      meeting.relay.addCandidate('talker', candidate).catch((error: unknown) => console.error('addCandidate', error));
    };
    talker.accept(await meeting.relay.handleOffer('talker', await talker.offer()));
    // A minimal Opus frame (TOC: CELT fullband 20 ms, one frame) and a few bytes of it.
    const frame = Uint8Array.of(0xfc, 0xff, 0xfe, 0x01);
    const pushed = () => meeting.sink.packets.get('talker') ?? [];
    // Until the connection carries media: frames from sequence 1000 on, 20 ms of timestamp apart.
    let seq = 1000;
    await waitFor(() => {
      talker.sendMic(seq, seq * 960, frame);
      seq += 1;
      return pushed().length > 0;
    }, CONNECT_MS, "the talker's mic at the mixer", 20);
    // Then frames with padding-only packets between them, as Chromium's probes come.
    const before = pushed().length;
    let frames = 0;
    for (let i = 0; i < 30; i += 1) {
      if (i % 3 === 1) talker.sendMic(seq++, (seq - 1) * 960, new Uint8Array(0));
      talker.sendMic(seq++, (seq - 1) * 960, frame);
      frames += 1;
    }
    await waitFor(() => pushed().length >= before + frames, CONNECT_MS, 'every frame at the mixer');
    const all = pushed();
    assert.ok(all.every(([, bytes]) => bytes > 0), 'no empty payload reaches the mixer');
    // Consecutive numbers: the mixer's jitter buffer plays one slot per number, and a gap would be 20 ms of concealment.
    assert.ok(all.every(([s], i) => i === 0 || s === ((all[i - 1]![0] + 1) & 0xffff)), JSON.stringify(all.map(([s]) => s)));
  } finally {
    talker.close();
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
