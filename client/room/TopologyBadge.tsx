/** The proof on screen of which path carries this client's media. */
import type { BadgeMode } from './RoomSession';

const LABEL: Record<BadgeMode, string> = {
  waiting: 'Waiting for others',
  p2p: 'P2P',
  relay: 'Relay',
  switching: 'Switching…',
};

export function TopologyBadge(props: { mode: BadgeMode; detail?: string }) {
  return (
    <span data-testid="topology-badge" data-mode={props.mode} class={`badge badge-${props.mode}`} title={props.detail}>
      {LABEL[props.mode]}
      {props.detail ? <small> · {props.detail}</small> : null}
    </span>
  );
}
