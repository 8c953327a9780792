/**
 * The stats overlay: the proof of which path carries the media, sampled each second; on the
 * relay also which layer of each camera this viewer gets and why, and the relay's estimate
 * of this viewer's downlink.
 */
import type { ComponentChildren } from 'preact';
import type { ParticipantInfo } from '../../protocol/signaling';
import { bitrate } from '../format';
import type { PathStats } from '../media/MediaConnection';

const PATH_LABEL = { p2p: 'peer-to-peer', relay: 'server relay' } as const;
const REASON_LABEL = { best: 'best sent', tile: 'tile size', bandwidth: 'bandwidth' } as const;

type Received = PathStats['inboundVideo'][number];

/** One term and its value; `stat` names the value for tests (`data-stat`), `testId` too where a test needs it. */
function Row(props: { term: string; stat: string; testId?: string; children: ComponentChildren; attrs?: Record<string, string> }) {
  return (
    <>
      <dt>{props.term}</dt>
      <dd data-stat={props.stat} {...(props.testId ? { 'data-testid': props.testId } : {})} {...props.attrs}>
        {props.children}
      </dd>
    </>
  );
}

const picture = (v: { width: number; height: number; fps: number }) => `${v.width}×${v.height} @ ${v.fps} fps`;

/** "layer 2/2 640×480 (best sent)", "paused: slow connection", "waiting for the first picture", or "–" before the relay says. */
function layerText(v: Received): string {
  if (v.paused) return 'paused: slow connection';
  if (v.waiting) return 'waiting for the first picture';
  if (!v.layer) return '–';
  return `layer ${v.layer.index + 1}/${v.layer.of} ${v.layer.width}×${v.layer.height} (${REASON_LABEL[v.layer.reason]})`;
}

/**
 * Your camera as sent: "640×480 @ 30 fps (layers 320×240, 640×480)", and what the relay
 * turned off of it ("a larger layer paused: …"), or that it turned it all off.
 */
function sendingText(s: PathStats): string {
  const unwatched = s.unwatchedLayers;
  if (unwatched && unwatched.paused >= unwatched.of) return 'nothing: the relay paused your camera, nobody has room to show you';
  const parts: string[] = [];
  if (s.outboundVideo) {
    const layers = s.outboundLayers && s.outboundLayers.length > 1 ? ` (layers ${s.outboundLayers.map((l) => `${l.width}×${l.height}`).join(', ')})` : '';
    parts.push(`${picture(s.outboundVideo)}${layers}`);
  }
  if (unwatched) parts.push(`${unwatched.paused === 1 ? 'a larger layer' : `${unwatched.paused} larger layers`} paused: nobody shows you that large`);
  return parts.join(' · ');
}

export function StatsOverlay(props: { stats: PathStats | null; people: ParticipantInfo[]; recoveries?: { count: number; last: string | null } }) {
  const s = props.stats;
  const nameOf = (id: string) => props.people.find((p) => p.id === id)?.name ?? id;
  const labelOf = (v: Received) => (v.source === 'screen' ? `${nameOf(v.participantId)} (screen)` : nameOf(v.participantId));
  return (
    <section class="stats" data-testid="stats-overlay" data-path={s?.path ?? ''} aria-label="Connection statistics">
      {!s ? (
        <p class="muted">No media connection yet.</p>
      ) : (
        <dl>
          <Row term="path" stat="path">
            {PATH_LABEL[s.path]} ({s.state})
          </Row>
          {props.recoveries && props.recoveries.count > 0 && (
            <Row term="recoveries" stat="recoveries">
              {props.recoveries.count} ({props.recoveries.last})
            </Row>
          )}
          <Row term="transport" stat="transport">{s.transport ?? '–'}</Row>
          <Row term="candidates" stat="candidates">
            {s.localCandidateType ?? '?'} → {s.remoteCandidateType ?? '?'}
          </Row>
          <Row term="local" stat="local-address">{s.localAddress ?? '–'}</Row>
          <Row term="remote" stat="remote-address">{s.remoteAddress ?? '–'}</Row>
          <Row term="bitrate" stat="bitrate">
            {s.bitrateUp === undefined || s.bitrateDown === undefined ? '–' : `↑ ${bitrate(s.bitrateUp)} ↓ ${bitrate(s.bitrateDown)}`}
          </Row>
          {s.downlink && (
            <Row
              term="downlink"
              stat="downlink"
              testId="stats-downlink-estimate"
              attrs={{
                ...(s.downlink.estimateBps !== undefined ? { 'data-estimate-bps': String(Math.round(s.downlink.estimateBps)) } : {}),
                'data-video-bps': String(Math.round(s.downlink.videoBps)),
                'data-loss-percent': String(s.downlink.lossPercent),
                ...(s.downlink.queueMs !== undefined ? { 'data-queue-ms': String(s.downlink.queueMs) } : {}),
                ...(s.downlink.limitBps !== undefined ? { 'data-limit-bps': String(Math.round(s.downlink.limitBps)) } : {}),
                'data-frames-left-out': String(s.downlink.framesLeftOut ?? 0),
              }}
            >
              relay sends video {bitrate(s.downlink.videoBps)}
              {s.downlink.limitBps !== undefined ? `, limited to ${bitrate(s.downlink.limitBps)} by this link` : ''} ({s.downlink.lossPercent} % lost
              {s.downlink.estimateBps !== undefined ? `; reaches you at ${bitrate(s.downlink.estimateBps)}, queued ${s.downlink.queueMs ?? 0} ms` : ''})
              {s.downlink.framesLeftOut ? `; ${s.downlink.framesLeftOut} frames left out while your video queued at the relay` : ''}
            </Row>
          )}
          {s.downlink?.uplink !== undefined && (
            <Row term="uplink" stat="uplink" testId="stats-uplink" attrs={{ 'data-video-bps': String(s.downlink.uplink.videoBps), 'data-loss-percent': String(s.downlink.uplink.lossPercent) }}>
              your video reaches the relay at {bitrate(s.downlink.uplink.videoBps)} ({s.downlink.uplink.lossPercent} % lost)
            </Row>
          )}
          {s.downlink?.voiceHeldMs !== undefined && (
            <Row term="your voice" stat="voice-held" testId="stats-voice-held" attrs={{ 'data-held-ms': String(s.downlink.voiceHeldMs) }}>
              waits {s.downlink.voiceHeldMs} ms at the relay before the mix
            </Row>
          )}
          <Row term="loss" stat="loss">{(s.loss * 100).toFixed(1)} %</Row>
          <Row term="RTT" stat="rtt">{s.rttMs !== undefined ? `${s.rttMs} ms` : '–'}</Row>
          <Row term="jitter" stat="jitter">{s.jitterMs !== undefined ? `${s.jitterMs} ms` : '–'}</Row>
          <Row term="audio buffer" stat="audio-buffer" attrs={s.audioBuffer ? { 'data-delay-ms': String(s.audioBuffer.delayMs), 'data-target-ms': String(s.audioBuffer.targetMs) } : {}}>
            {s.audioBuffer ? `${s.audioBuffer.delayMs} ms (target ${s.audioBuffer.targetMs} ms)` : '–'}
          </Row>
          <Row term="codecs" stat="codecs">{[s.audioCodec, s.videoCodec].filter(Boolean).join(', ') || '–'}</Row>
          {(s.outboundVideo || s.unwatchedLayers) && (
            <Row term="sending" stat="outbound-video" attrs={{ 'data-layers': String(s.outboundLayers?.length ?? 1), 'data-unwatched-layers': String(s.unwatchedLayers?.paused ?? 0) }}>
              {sendingText(s)}
            </Row>
          )}
          {s.outboundScreen && <Row term="sharing" stat="outbound-screen">{picture(s.outboundScreen)}</Row>}
          {s.inboundVideo.map((v) => (
            <>
              <Row term={labelOf(v)} stat="inbound-video">{picture(v)}</Row>
              {s.path === 'relay' && (
                <Row
                  term="layer"
                  stat="layer"
                  testId="stats-layer"
                  attrs={{ 'data-participant': nameOf(v.participantId), 'data-source': v.source, ...(v.paused ? { 'data-paused': v.paused } : {}), ...(v.layer ? { 'data-reason': v.layer.reason } : {}) }}
                >
                  {layerText(v)}
                </Row>
              )}
            </>
          ))}
        </dl>
      )}
    </section>
  );
}
