/**
 * The room's invite: one button copies the meeting link (on `PUBLIC_URL` when the server has
 * one) to the clipboard and says so; a host gets a second one for the host link. When the
 * clipboard refuses (no permission, an insecure page), the link is shown to copy by hand.
 */
import { useEffect, useState } from 'preact/hooks';

/** How long "Link copied" stays. */
const SAID_MS = 4000;

type Said = { text: string; link?: string; at: number };

/** The invite buttons and what the last copy did. */
export function InviteLinks(props: { link: string; hostLink: string | undefined }) {
  const [said, setSaid] = useState<Said | null>(null);
  useEffect(() => {
    if (!said) return;
    const timer = setTimeout(() => setSaid((now) => (now === said ? null : now)), SAID_MS);
    return () => clearTimeout(timer);
  }, [said]);

  const copy = async (link: string, done: string): Promise<void> => {
    try {
      await navigator.clipboard.writeText(link);
      setSaid({ text: done, at: Date.now() });
    } catch {
      setSaid({ text: 'Copy this link:', link, at: Date.now() });
    }
  };

  if (!props.link) return null;
  return (
    <div class="invite">
      <button data-testid="copy-link" class="neutral" title={`Copy the meeting link: ${props.link}`} onClick={() => void copy(props.link, 'Link copied')}>
        Copy link
      </button>
      {props.hostLink && (
        <button
          data-testid="copy-host-link"
          class="neutral"
          title="Copy the host link: whoever opens it can mute, remove, lock and cancel"
          onClick={() => void copy(props.hostLink!, 'Host link copied: share it only with co-hosts')}
        >
          Copy host link
        </button>
      )}
      {said && (
        <span data-testid="invite-status" class="invite-status" role="status">
          {said.text} {said.link && <code>{said.link}</code>}
        </span>
      )}
    </div>
  );
}
