/** The meeting room: header with the badge, the video grid, people and chat, controls. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { canShareScreen } from '../media/LocalMedia';
import { MediaEngine } from '../media/MediaEngine';
import type { PathStats } from '../media/MediaConnection';
import { ChatPanel } from './ChatPanel';
import { DevicePanel } from './DevicePanel';
import { InviteLinks } from './InviteLinks';
import { ParticipantList } from './ParticipantList';
import { RoomSession, type BadgeMode } from './RoomSession';
import { StatsOverlay } from './StatsOverlay';
import { TopologyBadge } from './TopologyBadge';
import { camerasWithoutRoom, tilesFor, VideoGrid } from './VideoGrid';

/** "direct" or "via TURN" for a P2P path; the server's address for the relay. */
function pathDetail(stats: PathStats | null): string | undefined {
  if (!stats || stats.state !== 'connected') return undefined;
  if (stats.path === 'p2p') {
    return stats.localCandidateType === 'relay' || stats.remoteCandidateType === 'relay' ? 'via TURN' : 'direct';
  }
  return stats.remoteAddress ? `server ${stats.remoteAddress}` : undefined;
}

const NEWS_SHOWN_MS = 6000;

/** A short line saying what the last path change was; it fades after a few seconds. */
function PathNews(props: { news: { text: string; at: number } | null }) {
  const [, setTick] = useState(0);
  const news = props.news;
  useEffect(() => {
    if (!news) return;
    const timer = setTimeout(() => setTick((t) => t + 1), NEWS_SHOWN_MS - (Date.now() - news.at));
    return () => clearTimeout(timer);
  }, [news]);
  if (!news || Date.now() - news.at >= NEWS_SHOWN_MS) return null;
  return (
    <p class="path-news" data-testid="path-news" role="status">
      {news.text}
    </p>
  );
}

export function Room(props: { meetingId: string; name: string; onExit: () => void }) {
  const session = useMemo(() => new RoomSession(props.meetingId, props.name), [props.meetingId, props.name]);
  const engine = useMemo(() => new MediaEngine(session), [session]);
  const [confirming, setConfirming] = useState(false);
  const [showDevices, setShowDevices] = useState(false);
  // The overlay is the proof on screen; on a phone it would hide the videos, so it starts closed there.
  const [showStats, setShowStats] = useState(() => window.innerWidth > 760);

  useEffect(() => {
    // No leave on pagehide: a reload or a closed tab is a drop, and the server keeps this
    // participant for the departure grace so a reload resumes it. Leaving the room inside
    // the app (back to the lobby) is a leave.
    void engine.prepare().then(() => session.join());
    return () => {
      session.leave();
      engine.close();
    };
  }, [session, engine]);

  const phase = session.phase.value;
  // While reconnecting the media keeps playing: the room stays as it is.
  const inRoom = phase === 'joined' || phase === 'reconnecting';
  const others = session.others.value;
  const self = session.self.value;
  const badge: BadgeMode = !inRoom || others.length === 0 ? 'waiting' : session.mode.value;
  const selfView = { camera: engine.local.videoOn.value ? engine.local.preview.value : null, screen: engine.local.screenPreview.value };
  const tiles = tilesFor(self, selfView, others, engine.remote.value, engine.speaking.value);
  const more = camerasWithoutRoom(others, engine.remote.value).map((p) => p.name);
  const audioOn = engine.local.audioOn.value;
  const videoOn = engine.local.videoOn.value;
  const screenOn = engine.local.screenOn.value;
  const leave = () => {
    session.leave();
    engine.close();
    props.onExit();
  };

  return (
    <main class="room">
      <header class="room-header">
        <h1>{session.title.value || 'Meeting'}</h1>
        {inRoom && session.recording.value && (
          <span data-testid="recording-indicator" class="recording" role="status" title="The server is recording the meeting's audio">
            ● Recording
          </span>
        )}
        <TopologyBadge mode={badge} detail={badge === 'waiting' ? undefined : pathDetail(engine.stats.value)} />
        {inRoom && <InviteLinks link={session.link.value} hostLink={session.hostLink()} />}
      </header>
      <PathNews news={session.pathNews.value} />
      {(session.notice.value || engine.local.problem.value) && (
        <p data-testid="room-notice" class={`notice notice-${phase}`} role="status">
          {session.notice.value ?? engine.local.problem.value}
          {!inRoom && phase !== 'joining' && (
            <button class="link" onClick={props.onExit}>
              Back to the lobby
            </button>
          )}
        </p>
      )}
      {inRoom && engine.mediaTrouble.value && (
        <p data-testid="media-notice" class="notice" role="status">
          {engine.mediaTrouble.value}
        </p>
      )}
      <div class="room-body">
        <section class="stage" aria-label="Videos">
          {phase === 'joining' && <p class="muted">Joining…</p>}
          {inRoom && others.length === 0 && tiles.length === 0 && (
            <p class="muted">
              You are the only one here. Share this link: <code>{session.link.value}</code>
            </p>
          )}
          {inRoom && (tiles.length > 0 || engine.audioOutputs.value.length > 0) && (
            <VideoGrid
              tiles={tiles}
              more={more}
              audios={engine.audioOutputs.value}
              prewarm={engine.prewarmVideos.value}
              sinkId={engine.local.speaker.value}
              onRenderSize={(id, source, size) => engine.setRenderSize(id, source, size)}
            />
          )}
          {inRoom && others.length === 0 && tiles.length > 0 && (
            <p class="muted share">
              You are the only one here. Share this link: <code>{session.link.value}</code>
            </p>
          )}
          {inRoom && showStats && others.length > 0 && (
            <StatsOverlay stats={engine.stats.value} people={others} recoveries={engine.recoveries.value} />
          )}
        </section>
        <aside class="side">
          <ParticipantList
            self={self && { ...self, audio: audioOn, video: videoOn, screen: screenOn }}
            others={others}
            {...(inRoom && session.isCreator.value ? { host: { mute: (id: string) => void session.hostMute(id), remove: (id: string) => void session.hostRemove(id) } } : {})}
          />
          <ChatPanel session={session} />
        </aside>
      </div>
      {inRoom && showDevices && <DevicePanel local={engine.local} />}
      <footer class="controls">
        {inRoom && (
          <>
            <button
              data-testid="toggle-mic"
              aria-pressed={audioOn ? 'true' : 'false'}
              disabled={!engine.local.hasAudio}
              onClick={() => engine.toggleAudio()}
              title={audioOn ? 'Turn microphone off' : 'Turn microphone on'}
            >
              {audioOn ? 'Mic on' : 'Mic off'}
            </button>
            <button
              data-testid="toggle-camera"
              aria-pressed={videoOn ? 'true' : 'false'}
              disabled={!engine.local.hasVideo}
              onClick={() => engine.toggleVideo()}
              title={videoOn ? 'Turn camera off' : 'Turn camera on'}
            >
              {videoOn ? 'Camera on' : 'Camera off'}
            </button>
            {canShareScreen() && (
              <button
                data-testid="toggle-screen"
                aria-pressed={screenOn ? 'true' : 'false'}
                class="neutral"
                title={screenOn ? 'Stop sharing your screen' : 'Share your screen, a window or a tab'}
                onClick={() => void engine.toggleScreen()}
              >
                {screenOn ? 'Stop sharing' : 'Share screen'}
              </button>
            )}
            <button
              data-testid="toggle-devices"
              aria-pressed={showDevices ? 'true' : 'false'}
              aria-expanded={showDevices ? 'true' : 'false'}
              class="neutral"
              title="Choose camera, microphone and speaker"
              onClick={() => setShowDevices(!showDevices)}
            >
              Devices
            </button>
            <button data-testid="toggle-stats" aria-pressed={showStats ? 'true' : 'false'} class="neutral" onClick={() => setShowStats(!showStats)}>
              Stats
            </button>
            <button data-testid="leave-meeting" class="danger" onClick={leave}>
              Leave
            </button>
          </>
        )}
        {inRoom && session.isCreator.value && (
          <button
            data-testid="toggle-recording"
            aria-pressed={session.recording.value ? 'true' : 'false'}
            class="neutral"
            title={session.recording.value ? 'Stop recording' : "Record the meeting's audio (the server's mix)"}
            onClick={() => void session.setRecording(!session.recording.value)}
          >
            {session.recording.value ? 'Stop recording' : 'Record'}
          </button>
        )}
        {inRoom && session.isCreator.value && (
          <button
            data-testid="lock-meeting"
            aria-pressed={session.locked.value ? 'true' : 'false'}
            class="neutral"
            title={session.locked.value ? 'Let newcomers join again' : 'Nobody new can join'}
            onClick={() => void session.setLocked(!session.locked.value)}
          >
            {session.locked.value ? 'Locked' : 'Lock'}
          </button>
        )}
        {inRoom && session.isCreator.value && !confirming && (
          <button data-testid="cancel-meeting" onClick={() => setConfirming(true)}>
            Cancel meeting
          </button>
        )}
        {confirming && (
          <span class="confirm">
            End the meeting for everyone?
            <button data-testid="confirm-cancel" class="danger" onClick={() => { setConfirming(false); void session.cancel(); }}>
              Yes, cancel it
            </button>
            <button onClick={() => setConfirming(false)}>No</button>
          </span>
        )}
      </footer>
    </main>
  );
}
