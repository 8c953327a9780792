/** Who is in the meeting, with their microphone, camera and screen-share state; hosts also get their controls here. */
import type { ParticipantInfo } from '../../protocol/signaling';

/** What a host can do to another participant (absent for everyone else). */
export interface HostActions {
  mute(participantId: string): void;
  remove(participantId: string): void;
}

export function ParticipantList(props: { self: ParticipantInfo | null; others: ParticipantInfo[]; host?: HostActions }) {
  const everyone = props.self ? [props.self, ...props.others] : props.others;
  const host = props.host;
  return (
    <section class="participants" aria-label="Participants">
      <h2>People ({everyone.length})</h2>
      <ul>
        {everyone.map((p) => {
          const isSelf = p.id === props.self?.id;
          return (
            <li key={p.id} data-testid="participant-item" data-participant={p.name}>
              <span>
                {p.name}
                {isSelf ? ' (you)' : ''}
                {p.isCreator ? <small class="muted"> · host</small> : null}
              </span>
              <span aria-label={`${p.audio ? 'microphone on' : 'microphone off'}, ${p.video ? 'camera on' : 'camera off'}${p.screen ? ', sharing a screen' : ''}`}>
                {p.screen && <span class="sharing">sharing screen</span>}
                {!p.audio && <span class="device-off">mic off</span>}
                {!p.video && <span class="device-off">camera off</span>}
              </span>
              {host && !isSelf && (
                <span class="host-actions">
                  <button data-testid="mute-participant" class="small neutral" disabled={!p.audio} title={`Turn ${p.name}'s microphone off`} onClick={() => host.mute(p.id)}>
                    Mute
                  </button>
                  <button data-testid="remove-participant" class="small danger" title={`Remove ${p.name} from the meeting`} onClick={() => host.remove(p.id)}>
                    Remove
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
