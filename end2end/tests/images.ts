/**
 * Small MRI-like test images made on the fly, as 24-bit BMPs (which need no library): an axial
 * "phantom" with a bright scalp ring, a dark CSF gap, brain tissue with smooth folds and fine
 * grain, and two dark ventricles. `variant` seeds the folds and the grain, so each has different
 * bytes. The shipped model accepts them as MRI slices (feature distance about 0.85-0.95 against
 * its 1.22 threshold) and reads them as no tumour (at least 94%, at most 4% for each other class,
 * over variants 1-30, 77, 300-310, 400-410, 500 and 999); a striped ellipse it refused.
 */
export function sliceBmp(variant: number, size = 128): Buffer {
  const fraction = (v: number) => v - Math.floor(v);
  const random = (k: number) => fraction(Math.sin(variant * 12.9898 + k * 78.233) * 43758.5453);
  const phase = Array.from({ length: 8 }, (_, i) => random(i) * 6.283);
  const frequency = Array.from({ length: 8 }, (_, i) => 2 + random(10 + i) * 4);
  const centre = size / 2;
  const pixel = (x: number, y: number) => {
    const dx = (x - centre) / (size * 0.4);
    const dy = (y - centre) / (size * 0.46);
    const r = Math.sqrt(dx * dx + dy * dy);
    if (r >= 1) return 2;
    if (r > 0.9) return 190;
    if (r > 0.86) return 25;
    const [u, v] = [x / size, y / size];
    let folds = 0;
    for (let i = 0; i < 4; i++) {
      folds += Math.sin(
        frequency[i] * 6.283 * (u * Math.cos(phase[i]) + v * Math.sin(phase[i])) + phase[(i + 3) % 8],
      );
    }
    let value = 105 + 15 * (folds / 4);
    for (const side of [-1, 1]) {
      const ex = (x - (centre + side * size * 0.07)) / (size * 0.05);
      const ey = (y - (centre - size * 0.02)) / (size * 0.13);
      if (ex * ex + ey * ey < 1) value = 30;
    }
    value += fraction(Math.sin(x * 12.9898 + y * 78.233 + variant) * 43758.5453) * 16 - 8;
    return Math.max(0, Math.min(255, Math.trunc(value)));
  };
  return bmp(size, (x, y) => {
    const value = pixel(x, y);
    return [value, value, value];
  });
}

/** A `size`x`size` 24-bit BMP (rows bottom-up, as the format stores them) of `rgb(x, y)`. */
function bmp(size: number, rgb: (x: number, y: number) => number[]): Buffer {
  const rowBytes = Math.ceil((size * 3) / 4) * 4;
  const pixelBytes = rowBytes * size;
  const buffer = Buffer.alloc(54 + pixelBytes);
  buffer.write("BM", 0, "ascii");
  buffer.writeUInt32LE(54 + pixelBytes, 2);
  buffer.writeUInt32LE(54, 10);
  buffer.writeUInt32LE(40, 14);
  buffer.writeInt32LE(size, 18);
  buffer.writeInt32LE(size, 22);
  buffer.writeUInt16LE(1, 26);
  buffer.writeUInt16LE(24, 28);
  buffer.writeUInt32LE(pixelBytes, 34);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = rgb(x, y);
      const offset = 54 + y * rowBytes + x * 3;
      buffer[offset] = b;
      buffer[offset + 1] = g;
      buffer[offset + 2] = r;
    }
  }
  return buffer;
}

export function sliceFile(variant: number, name = `slice-${variant}.bmp`) {
  return { name, mimeType: "image/bmp", buffer: sliceBmp(variant) };
}

/**
 * Something that is not an MRI slice: a yellow sun on a blue sky over green ground, as a 24-bit
 * BMP. The server must refuse it rather than classify it.
 */
export function cartoonFile(name = "sun.bmp") {
  // Small y is the ground: BMP rows run bottom-up.
  const buffer = bmp(160, (x, y) => {
    const sun = (x - 110) ** 2 + (y - 120) ** 2 < 22 ** 2;
    return sun ? [250, 215, 40] : y < 50 ? [60, 170, 70] : [90, 150, 235];
  });
  return { name, mimeType: "image/bmp", buffer };
}
