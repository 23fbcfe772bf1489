/** A decoded picture: RGB, 3 bytes per pixel, row-major. The one image type of the project. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** The image's bytes as a Buffer (no copy), for sharp's raw input. */
export function rgbBuffer(image: RgbImage): Buffer {
  const { rgb } = image;
  return Buffer.isBuffer(rgb) ? rgb : Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
}

/** sharp's raw-input description of an image. */
export function rawInput(image: RgbImage): { raw: { width: number; height: number; channels: 3 } } {
  return { raw: { width: image.width, height: image.height, channels: 3 } };
}
