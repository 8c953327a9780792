/** The stats overlay: the proof of which path carries the media, sampled each second. */
import type { ParticipantInfo } from '../../protocol/signaling';
import { bitrate } from '../format';
import type { PathStats } from '../media/MediaConnection';

const PATH_LABEL = { p2p: 'peer-to-peer', relay: 'server relay' } as const;

export function StatsOverlay(props: { stats: PathStats | null; people: ParticipantInfo[]; recoveries?: { count: number; last: string | null } }) {
  const s = props.stats;
  const nameOf = (id: string) => props.people.find((p) => p.id === id)?.name ?? id;
  return (
    <section class="stats" data-testid="stats-overlay" data-path={s?.path ?? ''} aria-label="Connection statistics">
      {!s ? (
        <p class="muted">No media connection yet.</p>
      ) : (
        <dl>
          <dt>path</dt>
          <dd data-stat="path">{PATH_LABEL[s.path]} ({s.state})</dd>
          {props.recoveries && props.recoveries.count > 0 && (
            <>
              <dt>recoveries</dt>
              <dd data-stat="recoveries">{props.recoveries.count} ({props.recoveries.last})</dd>
            </>
          )}
          <dt>transport</dt>
          <dd data-stat="transport">{s.transport ?? '–'}</dd>
          <dt>candidates</dt>
          <dd data-stat="candidates">
            {s.localCandidateType ?? '?'} → {s.remoteCandidateType ?? '?'}
          </dd>
          <dt>local</dt>
          <dd data-stat="local-address">{s.localAddress ?? '–'}</dd>
          <dt>remote</dt>
          <dd data-stat="remote-address">{s.remoteAddress ?? '–'}</dd>
          <dt>bitrate</dt>
          <dd data-stat="bitrate">
            {s.bitrateUp === undefined || s.bitrateDown === undefined ? '–' : `↑ ${bitrate(s.bitrateUp)} ↓ ${bitrate(s.bitrateDown)}`}
          </dd>
          <dt>loss</dt>
          <dd data-stat="loss">{(s.loss * 100).toFixed(1)} %</dd>
          <dt>RTT</dt>
          <dd data-stat="rtt">{s.rttMs !== undefined ? `${s.rttMs} ms` : '–'}</dd>
          <dt>jitter</dt>
          <dd data-stat="jitter">{s.jitterMs !== undefined ? `${s.jitterMs} ms` : '–'}</dd>
          <dt>codecs</dt>
          <dd data-stat="codecs">
            {[s.audioCodec, s.videoCodec].filter(Boolean).join(', ') || '–'}
          </dd>
          {s.outboundVideo && (
            <>
              <dt>sending</dt>
              <dd data-stat="outbound-video">
                {s.outboundVideo.width}×{s.outboundVideo.height} @ {s.outboundVideo.fps} fps
              </dd>
            </>
          )}
          {s.outboundScreen && (
            <>
              <dt>sharing</dt>
              <dd data-stat="outbound-screen">
                {s.outboundScreen.width}×{s.outboundScreen.height} @ {s.outboundScreen.fps} fps
              </dd>
            </>
          )}
          {s.inboundVideo.map((v) => (
            <>
              <dt>{v.source === 'screen' ? `${nameOf(v.participantId)} (screen)` : nameOf(v.participantId)}</dt>
              <dd data-stat="inbound-video">
                {v.width}×{v.height} @ {v.fps} fps
              </dd>
            </>
          ))}
        </dl>
      )}
    </section>
  );
}
