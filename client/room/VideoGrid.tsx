/**
 * The video grid: one tile per camera that is on and per shared screen (self included),
 * each screen beside its sharer's camera. Up to four tiles share a grid whose columns
 * follow the count; beyond that, or while a screen is shared, one tile is large and the
 * others sit in a strip (`layout.ts`); clicking a tile pins it large. Remote audio plays
 * from hidden <audio> elements (one per stream, whether or not the camera is on). Each
 * remote tile reports the size it is shown at (the relay sends no larger a layer), and a
 * relay video paused for this viewer's downlink says so on its tile; one whose first picture
 * has not come yet is covered (the element may hold someone else's).
 */
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ParticipantInfo, VideoSource } from '../../protocol/signaling';
import type { RemoteMedia } from '../media/MediaConnection';
import type { AudioOutput } from '../media/MediaEngine';
import { videoKey, type RenderSize } from '../media/RelayView';
import { chooseLayout } from './layout';
import { useRenderSize } from './useRenderSize';

export interface Tile {
  key: string;
  participantId: string;
  name: string;
  stream: MediaStream;
  self: boolean;
  source: VideoSource;
  speaking: boolean;
  /** The relay paused this video for this viewer: its downlink does not carry even the lowest layer. */
  paused?: 'bandwidth';
  /** The relay has not forwarded this video's first picture yet: what the element holds may be someone else's. */
  waiting?: true;
}

/** Where a tile reports the size it is shown at (remote tiles only). */
export type RenderSizeListener = (participantId: string, source: VideoSource, size: RenderSize | null) => void;

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
    const own = { participantId: self.id, name: self.name, self: true };
    if (selfView.camera) tiles.push({ ...own, key: 'self', stream: selfView.camera, source: 'camera', speaking: talking });
    if (selfView.screen) tiles.push({ ...own, key: 'self:screen', stream: selfView.screen, source: 'screen', speaking: false });
  }
  const relayState = (id: string, source: VideoSource) => {
    const state = remote.relayVideo?.get(videoKey(id, source));
    return { ...(state?.paused ? { paused: state.paused } : {}), ...(state?.waiting ? { waiting: true as const } : {}) };
  };
  for (const p of others) {
    const their = { participantId: p.id, name: p.name, self: false };
    const camera = remote.videos.get(p.id);
    if (p.video && camera) tiles.push({ ...their, key: p.id, stream: camera, source: 'camera', speaking: speaking.has(p.id), ...relayState(p.id, 'camera') });
    const screen = remote.screens.get(p.id);
    if (p.screen && screen) tiles.push({ ...their, key: `${p.id}:screen`, stream: screen, source: 'screen', speaking: false, ...relayState(p.id, 'screen') });
  }
  return tiles;
}

/**
 * The others whose camera is on but who have no tile because every relay slot of this
 * client shows someone else (the relay gives slots to the latest speakers): the grid says
 * how many and who, instead of leaving them out silently.
 */
export function camerasWithoutRoom(others: ParticipantInfo[], remote: RemoteMedia): ParticipantInfo[] {
  return remote.slotsFull ? others.filter((p) => p.video && !remote.videos.has(p.id)) : [];
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

function MediaElement(props: {
  stream: MediaStream;
  kind: 'video' | 'audio';
  muted: boolean;
  sinkId?: string;
  onRenderSize?: (size: RenderSize | null) => void;
  /** Called once the video presents its next frame (from now on). */
  onNextFrame?: () => void;
}) {
  const ref = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  useRenderSize(ref, props.onRenderSize);
  const onNextFrame = props.onNextFrame;
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !onNextFrame) return;
    if (!('requestVideoFrameCallback' in el)) return onNextFrame();
    const handle = el.requestVideoFrameCallback(() => onNextFrame());
    return () => el.cancelVideoFrameCallback(handle);
  }, [onNextFrame]);
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

/**
 * A tile whose first picture has not arrived: the relay reuses a receiver for another
 * person's video, so until their keyframe the element may hold the last picture of whoever
 * it showed before. It stays rendered (its size tells the relay what to send), covered.
 */
function WaitingMark(props: { name: string; paused: boolean }) {
  return (
    <div class="tile-waiting" data-testid="tile-waiting" role="status">
      <span class="tile-initial" aria-hidden="true">{props.name.slice(0, 1).toUpperCase()}</span>
      <span>{props.paused ? 'Paused: slow connection' : 'Video starting…'}</span>
    </div>
  );
}

/** "+3": the cameras there is no room to show (their names in full on hover); whoever speaks takes a tile. */
function MoreTile(props: { names: string[] }) {
  const names = props.names;
  const listed = names.length <= 2 ? names.join(' and ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
  return (
    <div class="tile more" data-testid="more-tile" data-count={String(names.length)} title={`Not shown for lack of room: ${names.join(', ')}. Whoever speaks is shown.`}>
      <span class="more-count">+{names.length}</span>
      <span class="more-names">{listed}</span>
    </div>
  );
}

/** The mark on a paused tile: the last picture stays, dimmed, under a sentence saying why. */
function PausedMark() {
  return (
    <div class="tile-paused" data-testid="tile-paused" role="status">
      <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20">
        <rect x="6" y="5" width="4" height="14" rx="1" fill="currentColor" />
        <rect x="14" y="5" width="4" height="14" rx="1" fill="currentColor" />
      </svg>
      <span>Paused: slow connection</span>
    </div>
  );
}

function TileView(props: { tile: Tile; featured: boolean; pinned: boolean; onPick: () => void; onRenderSize?: RenderSizeListener | undefined }) {
  const t = props.tile;
  // Covered while the relay says the first picture has not gone out, and after, until the
  // element presents a frame: the table can arrive before that picture is decoded.
  const [covered, setCovered] = useState(t.waiting === true);
  if (t.waiting && !covered) setCovered(true);
  const uncover = useMemo(() => (covered && !t.waiting ? () => setCovered(false) : undefined), [covered, t.waiting]);
  const classes = ['tile', t.source, t.self ? 'self' : '', t.speaking ? 'speaking' : '', props.featured ? 'featured' : '', t.paused ? 'paused' : ''].filter(Boolean).join(' ');
  const report = props.onRenderSize;
  const onRenderSize = report && !t.self ? (size: RenderSize | null) => report(t.participantId, t.source, size) : undefined;
  return (
    <div
      data-testid="video-tile"
      data-participant={t.name}
      data-source={t.source}
      data-featured={props.featured ? 'true' : 'false'}
      {...(t.paused ? { 'data-paused': t.paused } : {})}
      {...(covered ? { 'data-waiting': 'picture' } : {})}
      class={classes}
      title={props.pinned ? 'Click to unpin' : 'Click to show large'}
      onClick={props.onPick}
    >
      {/* Video elements are always muted: sound comes from the audio elements below. */}
      <MediaElement stream={t.stream} kind="video" muted {...(onRenderSize ? { onRenderSize } : {})} {...(uncover ? { onNextFrame: uncover } : {})} />
      {covered ? <WaitingMark name={t.name} paused={t.paused !== undefined} /> : t.paused && <PausedMark />}
      <span class="tile-name">{tileLabel(t)}</span>
    </div>
  );
}

export function VideoGrid(props: {
  tiles: Tile[];
  /** Names of the cameras without a tile for lack of room (`camerasWithoutRoom`). */
  more: string[];
  audios: AudioOutput[];
  prewarm: MediaStream[];
  sinkId?: string;
  onRenderSize?: RenderSizeListener;
}) {
  const wide = typeof window === 'undefined' || window.innerWidth > 760;
  const [pinned, setPinned] = useState<string | null>(null);
  const lastFeatured = useRef<string | null>(null);
  const layout = chooseLayout(props.tiles, lastFeatured.current, pinned);
  lastFeatured.current = layout.mode === 'spotlight' ? layout.featured : null;
  const pick = (key: string) => setPinned(pinned === key ? null : key);
  const more = props.more.length > 0 ? <MoreTile names={props.more} /> : null;
  const view = (t: Tile, featured: boolean) => (
    <TileView key={t.key} tile={t} featured={featured} pinned={pinned === t.key} onPick={() => pick(t.key)} onRenderSize={props.onRenderSize} />
  );
  return (
    <>
      {layout.mode === 'grid' ? (
        <div class="grid" data-layout="grid" style={{ '--cols': String(columnsFor(props.tiles.length + Number(more !== null), wide)) }}>
          {props.tiles.map((t) => view(t, false))}
          {more}
        </div>
      ) : (
        <div class="grid spotlight" data-layout="spotlight">
          <div class="featured-area">{props.tiles.filter((t) => t.key === layout.featured).map((t) => view(t, true))}</div>
          <div class="strip">
            {props.tiles.filter((t) => t.key !== layout.featured).map((t) => view(t, false))}
            {more}
          </div>
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
