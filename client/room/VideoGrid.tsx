/**
 * The video grid: one tile per camera that is on and per shared screen (self included),
 * each screen beside its sharer's camera. Up to four tiles share a grid whose columns
 * follow the count; beyond that, or while a screen is shared, one tile is large and the
 * others sit in a strip (`layout.ts`); clicking a tile pins it large. Remote audio plays
 * from hidden <audio> elements (one per stream, whether or not the camera is on).
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ParticipantInfo, VideoSource } from '../../protocol/signaling';
import type { RemoteMedia } from '../media/MediaConnection';
import type { AudioOutput } from '../media/MediaEngine';
import { chooseLayout } from './layout';

export interface Tile {
  key: string;
  name: string;
  stream: MediaStream;
  self: boolean;
  source: VideoSource;
  speaking: boolean;
}

/** What this page shows of itself: its camera preview and its shared screen (null when off). */
export interface SelfView {
  camera: MediaStream | null;
  screen: MediaStream | null;
}

/** Chooses the tiles: cameras that are on and screens being shared, whose video has arrived. */
export function tilesFor(
  self: ParticipantInfo | null,
  selfView: SelfView,
  others: ParticipantInfo[],
  remote: RemoteMedia,
  speaking: ReadonlySet<string>,
): Tile[] {
  const tiles: Tile[] = [];
  if (self) {
    const talking = speaking.has(self.id);
    if (selfView.camera) tiles.push({ key: 'self', name: self.name, stream: selfView.camera, self: true, source: 'camera', speaking: talking });
    if (selfView.screen) tiles.push({ key: 'self:screen', name: self.name, stream: selfView.screen, self: true, source: 'screen', speaking: false });
  }
  for (const p of others) {
    const camera = remote.videos.get(p.id);
    if (p.video && camera) tiles.push({ key: p.id, name: p.name, stream: camera, self: false, source: 'camera', speaking: speaking.has(p.id) });
    const screen = remote.screens.get(p.id);
    if (p.screen && screen) tiles.push({ key: `${p.id}:screen`, name: p.name, stream: screen, self: false, source: 'screen', speaking: false });
  }
  return tiles;
}

function tileLabel(t: Tile): string {
  if (t.source === 'screen') return t.self ? 'Your screen' : `${t.name}'s screen`;
  return t.self ? `${t.name} (you)` : t.name;
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

function TileView(props: { tile: Tile; featured: boolean; pinned: boolean; onPick: () => void }) {
  const t = props.tile;
  const classes = ['tile', t.source, t.self ? 'self' : '', t.speaking ? 'speaking' : '', props.featured ? 'featured' : ''].filter(Boolean).join(' ');
  return (
    <div
      data-testid="video-tile"
      data-participant={t.name}
      data-source={t.source}
      data-featured={props.featured ? 'true' : 'false'}
      class={classes}
      title={props.pinned ? 'Click to unpin' : 'Click to show large'}
      onClick={props.onPick}
    >
      {/* Video elements are always muted: sound comes from the audio elements below. */}
      <MediaElement stream={t.stream} kind="video" muted />
      <span class="tile-name">{tileLabel(t)}</span>
    </div>
  );
}

export function VideoGrid(props: { tiles: Tile[]; audios: AudioOutput[]; prewarm: MediaStream[]; sinkId?: string }) {
  const wide = typeof window === 'undefined' || window.innerWidth > 760;
  const [pinned, setPinned] = useState<string | null>(null);
  const lastFeatured = useRef<string | null>(null);
  const layout = chooseLayout(props.tiles, lastFeatured.current, pinned);
  lastFeatured.current = layout.mode === 'spotlight' ? layout.featured : null;
  const pick = (key: string) => setPinned(pinned === key ? null : key);
  const view = (t: Tile, featured: boolean) => (
    <TileView key={t.key} tile={t} featured={featured} pinned={pinned === t.key} onPick={() => pick(t.key)} />
  );
  return (
    <>
      {layout.mode === 'grid' ? (
        <div class="grid" data-layout="grid" style={{ '--cols': String(columnsFor(props.tiles.length, wide)) }}>
          {props.tiles.map((t) => view(t, false))}
        </div>
      ) : (
        <div class="grid spotlight" data-layout="spotlight">
          <div class="featured-area">{props.tiles.filter((t) => t.key === layout.featured).map((t) => view(t, true))}</div>
          <div class="strip">{props.tiles.filter((t) => t.key !== layout.featured).map((t) => view(t, false))}</div>
        </div>
      )}
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
