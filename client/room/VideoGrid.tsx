/**
 * The video grid: one tile per camera that is on (self included), laid out in a grid
 * whose columns follow the tile count. Remote audio plays from hidden <audio> elements
 * (one per stream, whether or not the camera is on).
 */
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { ParticipantInfo } from '../../protocol/signaling';
import type { RemoteMedia } from '../media/MediaConnection';
import type { AudioOutput } from '../media/MediaEngine';

export interface Tile {
  key: string;
  name: string;
  stream: MediaStream;
  self: boolean;
  speaking: boolean;
}

/** Chooses the tiles: cameras that are on and whose video has arrived. */
export function tilesFor(
  self: ParticipantInfo | null,
  selfPreview: MediaStream | null,
  others: ParticipantInfo[],
  remote: RemoteMedia,
  speaking: ReadonlySet<string>,
): Tile[] {
  const tiles: Tile[] = [];
  if (self && selfPreview) tiles.push({ key: 'self', name: self.name, stream: selfPreview, self: true, speaking: speaking.has(self.id) });
  for (const p of others) {
    const stream = remote.videos.get(p.id);
    if (p.video && stream) tiles.push({ key: p.id, name: p.name, stream, self: false, speaking: speaking.has(p.id) });
  }
  return tiles;
}

function columnsFor(count: number, wide: boolean): number {
  if (count <= 1) return 1;
  if (!wide) return count <= 4 ? 1 + Number(count > 2) : 2;
  return Math.ceil(Math.sqrt(count));
}

function MediaElement(props: { stream: MediaStream; kind: 'video' | 'audio'; muted: boolean; sinkId?: string }) {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  // The chosen speaker, for elements made before the choice and after it alike.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || props.sinkId === undefined || !('setSinkId' in el) || el.sinkId === props.sinkId) return;
    void el.setSinkId(props.sinkId).catch(() => {}); // a device gone since: the default keeps playing
  }, [props.sinkId]);
  // Before paint, not after: at a switch's commit the tile takes its new source at once.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (el.srcObject !== props.stream) el.srcObject = props.stream;
    void el.play().catch(() => {});
  }, [props.stream]);
  return props.kind === 'video' ? (
    <video ref={ref} autoPlay playsInline muted={props.muted} />
  ) : (
    <audio ref={ref} autoPlay muted={props.muted} data-testid="remote-audio" data-audible={String(!props.muted)} />
  );
}

export function VideoGrid(props: { tiles: Tile[]; audios: AudioOutput[]; prewarm: MediaStream[]; sinkId?: string }) {
  const wide = typeof window === 'undefined' || window.innerWidth > 760;
  return (
    <>
      <div class="grid" style={{ '--cols': String(columnsFor(props.tiles.length, wide)) }}>
        {props.tiles.map((t) => (
          <div key={t.key} data-testid="video-tile" data-participant={t.name} class={`tile${t.self ? ' self' : ''}${t.speaking ? ' speaking' : ''}`}>
            {/* Video elements are always muted: sound comes from the audio elements below. */}
            <MediaElement stream={t.stream} kind="video" muted />
            <span class="tile-name">{t.self ? `${t.name} (you)` : t.name}</span>
          </div>
        ))}
      </div>
      <div hidden>
        {props.audios.map((a) => (
          <MediaElement key={a.key} stream={a.stream} kind="audio" muted={!a.audible} sinkId={props.sinkId} />
        ))}
      </div>
      {/* Rendered (so decoded) but invisible: the next path's videos during a switch. */}
      <div class="prewarm" aria-hidden="true">
        {props.prewarm.map((stream) => (
          <MediaElement key={stream.id} stream={stream} kind="video" muted />
        ))}
      </div>
    </>
  );
}
