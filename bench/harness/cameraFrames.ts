/** Synthetic camera pictures for load clients (the wrtc one encodes them; the light one replays their VP8). */

/**
 * Camera frames: a textured picture of the client's own luma that scrolls, so the encoder has
 * motion to code. The scroll covers exactly the picture's width over the `count` frames, so
 * the loop has no jump (a jump made the encoder send a keyframe-sized frame every loop, a
 * burst no real camera sends).
 */
export function cameraFrames(width: number, height: number, luma: number, count: number): Array<{ width: number; height: number; data: Uint8Array }> {
  const texture = new Uint8Array(width * height);
  let seed = (luma * 2654435761) >>> 0;
  for (let i = 0; i < texture.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    texture[i] = seed >>> 27; // 0..31
  }
  const frames = [];
  for (let f = 0; f < count; f++) {
    const data = new Uint8Array(width * height * 1.5);
    const shift = Math.round((f * width) / count);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bar = ((x + shift) >> 4) % 4 === 0 ? 40 : 0;
        data[y * width + x] = Math.min(235, luma + bar + texture[y * width + ((x + shift) % width)]);
      }
    }
    data.fill(128, width * height); // neutral chroma
    frames.push({ width, height, data });
  }
  return frames;
}
