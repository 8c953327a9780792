/** Limits both sides agree on; the server enforces them. */
export const LIMITS = {
  chatTextMax: 2000,
  nameMax: 40,
  titleMax: 80,
  /** Largest signaling frame the server reads (SDP offers with many transceivers fit easily). */
  messageBytesMax: 64 * 1024,
  /** Chat rate limit per participant: a burst, refilled at `chatPerSecond`. */
  chatBurst: 10,
  chatPerSecond: 3,
  /** Pre-allocated receive-only video slots in a client's relay offer (others shown at once). */
  relayVideoSlots: 8,
} as const;
