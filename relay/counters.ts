/**
 * A meeting's relay and mixer figures, defined once: the schemas the worker channel checks,
 * the types the relay and the coordinator use, their zero values, and how the totals of
 * several relays (one closed, one live) add up. Totals only grow; gauges say how things are
 * now and are taken from the live relay, never added.
 */
import { Type, type Static } from '@sinclair/typebox';

const Closed = { additionalProperties: false } as const;
const Count = Type.Number({ minimum: 0 });

/** Per-meeting media counters (RTP sizes are header plus payload, before SRTP). */
export const RelayCountersSchema = Type.Object(
  {
    /** RTP packets sent to participants: forwarded video plus mixed audio. */
    packetsForwarded: Count,
    bytesForwarded: Count,
    /** RTP packets received from participants (audio and video). */
    packetsReceived: Count,
    bytesReceived: Count,
    /** Keyframe requests (PLI) sent to publishers. */
    plisSent: Count,
    /** Packets lost on publishers' uplinks that the relay asked for again (NACK), and those that came. */
    packetsAskedAgain: Count,
    packetsRecovered: Count,
    /** Keyframe requests (PLI/FIR) received from viewers and routed to a publisher. */
    keyframeRequestsReceived: Count,
    /** Changes of the layer (or pause) a viewer's slot forwards, made by the per-viewer allocation. */
    layerSwitches: Count,
    /** Frames of higher temporal layers left out for viewers whose video queued at the relay. */
    framesLeftOut: Count,
    /** Gauge: viewer slots in the forwarding index (source → slots), as many as live viewers' filled slots. */
    forwardingEntries: Count,
    /** Gauge: viewer slots paused now because the viewer's downlink does not carry even the lowest layer. */
    pausedSlots: Count,
    /** Gauge: publishers' camera layers paused at their browsers now because no viewer's tile needs them (PublisherLayers). */
    unwatchedLayers: Count,
  },
  Closed,
);
export type RelayCounters = Static<typeof RelayCountersSchema>;

/** The mixer's figures as the coordinator gets them. */
export const MixerFiguresSchema = Type.Object(
  {
    ticks: Count,
    lateTicks: Count,
    concealed: Count,
    latePackets: Count,
    /** Gauges: tick time percentiles over the recent ticks (ms). */
    tickMsP50: Count,
    tickMsP99: Count,
    /** Gauges: time between consecutive ticks' mix packets leaving the worker, over the recent ticks (ms; steady is 20). */
    departureMsP50: Type.Optional(Count),
    departureMsP99: Type.Optional(Count),
    departureMsMax: Type.Optional(Count),
    /** Gauge: how long a microphone packet waits in the relay's jitter buffer before it is mixed (ms, average, the worst participant's). */
    inputHeldMs: Type.Optional(Count),
    /** Gauge: the mix encoders' Opus complexity now (0..10). */
    complexity: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  },
  Closed,
);
export type MixerFigures = Static<typeof MixerFiguresSchema>;

/** The relay counters that only grow (summed over a meeting's relays). */
const RELAY_TOTALS = ['packetsForwarded', 'bytesForwarded', 'packetsReceived', 'bytesReceived', 'plisSent', 'packetsAskedAgain', 'packetsRecovered', 'keyframeRequestsReceived', 'layerSwitches', 'framesLeftOut'] as const satisfies ReadonlyArray<keyof RelayCounters>;
/** The mixer figures that only grow. */
const MIXER_TOTALS = ['ticks', 'lateTicks', 'concealed', 'latePackets'] as const satisfies ReadonlyArray<keyof MixerFigures>;

/** Relay counters of a relay that has forwarded nothing. */
export function zeroRelayCounters(): RelayCounters {
  return { packetsForwarded: 0, bytesForwarded: 0, packetsReceived: 0, bytesReceived: 0, plisSent: 0, packetsAskedAgain: 0, packetsRecovered: 0, keyframeRequestsReceived: 0, layerSwitches: 0, framesLeftOut: 0, forwardingEntries: 0, pausedSlots: 0, unwatchedLayers: 0 };
}

/** Mixer figures of a mixer that has not ticked. */
export function zeroMixerFigures(): MixerFigures {
  return { ticks: 0, lateTicks: 0, concealed: 0, latePackets: 0, tickMsP50: 0, tickMsP99: 0 };
}

/** Adds the totals (not the gauges) of `from` into `into`. */
export function addTotals(into: { relay: RelayCounters; mixer: MixerFigures }, from: { relay: RelayCounters; mixer: MixerFigures }): void {
  for (const key of RELAY_TOTALS) into.relay[key] += from.relay[key];
  for (const key of MIXER_TOTALS) into.mixer[key] += from.mixer[key];
}

/**
 * Folds the gauges of one live meeting's figures into a worker's: the relay's (counts of
 * slots) add up, the mixer's (tick times, complexity, any timing figure added later) take
 * the worst meeting's.
 */
export function foldGauges(into: { relay: RelayCounters; mixer: MixerFigures }, from: { relay: RelayCounters; mixer: MixerFigures }): void {
  for (const key of Object.keys(from.relay) as Array<keyof RelayCounters>) {
    if (!(RELAY_TOTALS as ReadonlyArray<string>).includes(key)) into.relay[key] += from.relay[key];
  }
  for (const key of Object.keys(from.mixer) as Array<keyof MixerFigures>) {
    if (!(MIXER_TOTALS as ReadonlyArray<string>).includes(key)) into.mixer[key] = Math.max(into.mixer[key] ?? 0, from.mixer[key] ?? 0);
  }
}
