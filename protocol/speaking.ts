/**
 * When someone counts as speaking, for the tiles' speaking mark and the featured tile (the
 * client) and for which cameras the relay's slots show when there are more than slots (the
 * relay): an audio level (RMS, 0..1) above this, about −34 dBFS — speech, not background noise.
 */
export const SPEAKING_LEVEL = 0.02;
