/** Who is in the meeting, with their microphone and camera state. */
import type { ParticipantInfo } from '../../protocol/signaling';

export function ParticipantList(props: { self: ParticipantInfo | null; others: ParticipantInfo[] }) {
  const everyone = props.self ? [props.self, ...props.others] : props.others;
  return (
    <section class="participants" aria-label="Participants">
      <h2>People ({everyone.length})</h2>
      <ul>
        {everyone.map((p) => (
          <li key={p.id} data-testid="participant" data-participant={p.name}>
            <span>
              {p.name}
              {p.id === props.self?.id ? ' (you)' : ''}
              {p.isCreator ? <small class="muted"> · host</small> : null}
            </span>
            <span aria-label={`${p.audio ? 'microphone on' : 'microphone off'}, ${p.video ? 'camera on' : 'camera off'}`}>
              {!p.audio && <span class="device-off">mic off</span>}
              {!p.video && <span class="device-off">camera off</span>}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
