/** An 8-bit BGR image, H×W×3 row-major: what the image readers (./image-file.ts, ./browser.ts) produce and the detector takes. */
export interface BgrImage {
  height: number;
  width: number;
  data: Uint8Array;
}
