/**
 * Kept only for `tests/helpers/audioGaps.ts`, which imports the probe from here: the probe is
 * `harness/browserProbe.ts`. Delete this file once that import names the harness.
 */
export { levelTrace, longestSilence, probeInitScript, readProbe } from './harness/browserProbe';
