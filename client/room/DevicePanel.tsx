/**
 * Choosing the camera, microphone and (where the browser can route audio) speaker. A
 * choice takes effect at once, in the call, without asking for the other device again.
 */
import { useEffect } from 'preact/hooks';
import { canChooseSpeaker, type DeviceOption, type LocalMedia } from '../media/LocalMedia';

function DeviceSelect(props: { testId: string; label: string; options: DeviceOption[]; value: string; onPick: (deviceId: string) => void }) {
  // With nothing listed (no permission, no device) the select still says what it is for.
  const options = props.options.length > 0 ? props.options : [{ deviceId: '', label: 'None found' }];
  return (
    <label class="device-choice">
      <span>{props.label}</span>
      <select
        data-testid={props.testId}
        value={props.value}
        disabled={props.options.length === 0}
        onChange={(e) => props.onPick(e.currentTarget.value)}
      >
        {options.map((d) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The device panel under the room's controls. */
export function DevicePanel(props: { local: LocalMedia }) {
  const local = props.local;
  // Labels and devices may have changed since the meeting started: read them on opening.
  useEffect(() => void local.refreshDevices(), [local]);
  const lists = local.devices.value;
  const inUse = local.inUse.value;
  const speakers = lists.speaker.length > 0 ? lists.speaker : [{ deviceId: '', label: 'System default' }];
  return (
    <div class="device-panel" data-testid="device-panel" role="group" aria-label="Devices">
      <DeviceSelect testId="select-camera" label="Camera" options={lists.camera} value={inUse.video ?? ''} onPick={(id) => void local.switchDevice('video', id)} />
      <DeviceSelect testId="select-microphone" label="Microphone" options={lists.microphone} value={inUse.audio ?? ''} onPick={(id) => void local.switchDevice('audio', id)} />
      {canChooseSpeaker() && (
        <DeviceSelect testId="select-speaker" label="Speaker" options={speakers} value={local.speaker.value} onPick={(id) => local.setSpeaker(id)} />
      )}
    </div>
  );
}
