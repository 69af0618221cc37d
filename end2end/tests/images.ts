/**
 * Small MRI-like test images made on the fly, as 24-bit BMPs (which need no library): the axial
 * phantom of `synthetic/src/phantom.rs` without its lesion (a thin bright scalp, a dark skull, brain
 * tissue with winding sulci along the contours of a smooth random field, a midline fissure, two
 * dark ventricles, blurred a little), drawn with the same seeded generator (SplitMix64), so each
 * `variant` has different bytes. The shipped model (EfficientNet-Lite0) accepts them as MRI slices
 * and reads them as no tumour: feature distance 0.96-1.19 over variants 0-31, 77, 300-323, 400-410,
 * 500 and 999 at 128 px and 1.01-1.13 over a sample at 256 px (the default: uploads for training must
 * be at least the model's 160 px input), against its 1.42 threshold. Smooth drawings without sulci, such as
 * the phantom this replaced, it refuses.
 */
export function sliceBmp(variant: number, size = 256): Buffer {
  const pixels = slicePixels(variant, size);
  // BMP rows run bottom-up.
  return bmp(size, (x, y) => {
    const value = pixels[(size - 1 - y) * size + x];
    return [value, value, value];
  });
}

/** SplitMix64, as `synthetic/src/rng.rs`: the same seed gives the same numbers. */
class Rng {
  private state: bigint;
  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }
  private nextU64(): bigint {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  next(): number {
    return Number(this.nextU64() >> 40n) / 16777216;
  }
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }
}

/** A smooth random field on a `cells` x `cells` lattice, smooth-step interpolated, in [0, 1). */
function valueNoise(rng: Rng, cells: number): (u: number, v: number) => number {
  const values = Array.from({ length: (cells + 1) * (cells + 1) }, () => rng.next());
  const smooth = (t: number) => t * t * (3 - 2 * t);
  return (u, v) => {
    const x = Math.min(Math.max(u, 0), 0.9999) * cells;
    const y = Math.min(Math.max(v, 0), 0.9999) * cells;
    const [ix, iy] = [Math.floor(x), Math.floor(y)];
    const [sx, sy] = [smooth(x - ix), smooth(y - iy)];
    const at = (i: number, j: number) => values[j * (cells + 1) + i];
    const top = at(ix, iy) * (1 - sx) + at(ix + 1, iy) * sx;
    const bottom = at(ix, iy + 1) * (1 - sx) + at(ix + 1, iy + 1) * sx;
    return top * (1 - sy) + bottom * sy;
  };
}

/** The grey levels of the slice, row by row from the top. */
function slicePixels(variant: number, size: number): number[] {
  const rng = new Rng(0x5eedn ^ BigInt.asUintN(64, BigInt(variant + 1) * 0x10000001n));
  const grain = new Rng(BigInt.asUintN(64, BigInt(variant) * 0x9e37n) ^ 0xa5a5n);
  const folds = [valueNoise(rng, 7), valueNoise(rng, 13), valueNoise(rng, 23)];
  const tissue = valueNoise(rng, 5);
  const outline = valueNoise(rng, 6);
  const [halfWidth, halfHeight] = [rng.uniform(0.36, 0.42), rng.uniform(0.43, 0.47)];
  const centre = size / 2;
  const sharp: number[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [u, v] = [x / size, y / size];
      const [dx, dy] = [(x - centre) / (size * halfWidth), (y - centre) / (size * halfHeight)];
      const r = Math.sqrt(dx * dx + dy * dy) * (1 + 0.04 * (outline(u, v) - 0.5));
      let value: number;
      if (r >= 1) value = 3;
      else if (r > 0.965) value = 175; // scalp fat
      else if (r > 0.93) value = 22; // skull
      else if (r > 0.915) value = 120; // marrow and dura
      else if (r > 0.9) value = 30; // cerebrospinal fluid
      else {
        const field = 0.5 * folds[0](u, v) + 0.3 * folds[1](u, v) + 0.2 * folds[2](u, v);
        const cortex = Math.min(Math.max((r - 0.55) / 0.35, 0), 1);
        value = 95 + 25 * (tissue(u, v) - 0.5) + 12 * (1 - cortex);
        const phase = field * 9;
        if (Math.abs(phase - Math.floor(phase) - 0.5) < 0.06 + 0.03 * cortex) value -= 45 * (0.4 + 0.6 * cortex);
        if (Math.abs(x - centre) < size * 0.006 && Math.abs(y - centre) > size * 0.12) value = 35;
        for (const side of [-1, 1]) {
          const ex = (x - (centre + side * size * 0.06)) / (size * 0.04);
          const ey = (y - (centre - size * 0.02)) / (size * 0.12);
          if (ex * ex + ey * ey < 1) value = 28;
        }
      }
      sharp.push(Math.min(Math.max(value + grain.uniform(-3, 3), 0), 255));
    }
  }
  return gaussianBlur(sharp, size, (1.5 * size) / 512).map((value) => Math.trunc(value));
}

/** A separable Gaussian blur of a `size` x `size` grid, edges clamped. */
function gaussianBlur(grid: number[], size: number, sigma: number): number[] {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const weights = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = weights.reduce((a, b) => a + b, 0);
  const clamp = (i: number) => Math.min(Math.max(i, 0), size - 1);
  const pass = (input: number[], horizontal: boolean) =>
    input.map((_, index) => {
      const [x, y] = [index % size, Math.floor(index / size)];
      let sum = 0;
      weights.forEach((weight, k) => {
        const offset = k - radius;
        sum += weight * (horizontal ? input[y * size + clamp(x + offset)] : input[clamp(y + offset) * size + x]);
      });
      return sum / total;
    });
  return pass(pass(grid, true), false);
}

/** Identifying values the DICOM file carries; the server must keep none of them. */
export const DICOM_PATIENT = { name: "Doe^Jane", id: "PID-7734-E2E" };

/**
 * The same slice as [`sliceBmp`] in a DICOM Part 10 file (Explicit VR Little Endian), as a scanner
 * would write it: 16-bit values (grey level x 16), a window that maps them back onto the grey
 * levels, acquisition tags, and a patient's name and ID that must never be stored.
 */
export function dicomFile(
  variant: number,
  size = 256,
  name = `slice-${variant}.dcm`,
  place?: { study: string; series: string; number: number; z: number },
) {
  const element = (group: number, tag: number, vr: string, value: Buffer) => {
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.from([vr === "UI" ? 0 : 0x20])]) : value;
    const long = ["OB", "OW", "SQ", "UN", "UT"].includes(vr);
    const header = Buffer.alloc(long ? 12 : 8);
    header.writeUInt16LE(group, 0);
    header.writeUInt16LE(tag, 2);
    header.write(vr, 4, "ascii");
    if (long) header.writeUInt32LE(padded.length, 8);
    else header.writeUInt16LE(padded.length, 6);
    return Buffer.concat([header, padded]);
  };
  const text = (value: string) => Buffer.from(value, "ascii");
  const us = (value: number) => {
    const buffer = Buffer.alloc(2);
    buffer.writeUInt16LE(value, 0);
    return buffer;
  };
  const mrStorage = "1.2.840.10008.5.1.4.1.1.4";
  const instance = place ? `${place.series}.${place.number}` : `1.2.826.0.1.3680043.2.1125.${variant}`;
  const meta = Buffer.concat([
    element(2, 0x0001, "OB", Buffer.from([0, 1])),
    element(2, 0x0002, "UI", text(mrStorage)),
    element(2, 0x0003, "UI", text(instance)),
    element(2, 0x0010, "UI", text("1.2.840.10008.1.2.1")),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length, 0);
  const pixels = Buffer.alloc(size * size * 2);
  slicePixels(variant, size).forEach((grey, i) => pixels.writeUInt16LE(grey * 16, i * 2));
  const dataset = Buffer.concat([
    element(0x0008, 0x0016, "UI", text(mrStorage)),
    element(0x0008, 0x0018, "UI", text(instance)),
    element(0x0008, 0x0060, "CS", text("MR")),
    element(0x0008, 0x0070, "LO", text("PlaywrightScan")),
    element(0x0008, 0x0080, "LO", text("St Example Hospital")),
    element(0x0010, 0x0010, "PN", text(DICOM_PATIENT.name)),
    element(0x0010, 0x0020, "LO", text(DICOM_PATIENT.id)),
    element(0x0018, 0x0050, "DS", text("5")),
    element(0x0018, 0x0087, "DS", text("1.5")),
    // An instance of a series: its study, series, number and place (axial).
    ...(place
      ? [
          element(0x0020, 0x000d, "UI", text(place.study)),
          element(0x0020, 0x000e, "UI", text(place.series)),
          element(0x0020, 0x0013, "IS", text(String(place.number))),
          element(0x0020, 0x0032, "DS", text(`-120\\-120\\${place.z}`)),
          element(0x0020, 0x0037, "DS", text("1\\0\\0\\0\\1\\0")),
        ]
      : []),
    element(0x0028, 0x0002, "US", us(1)),
    element(0x0028, 0x0004, "CS", text("MONOCHROME2")),
    element(0x0028, 0x0010, "US", us(size)),
    element(0x0028, 0x0011, "US", us(size)),
    element(0x0028, 0x0100, "US", us(16)),
    element(0x0028, 0x0101, "US", us(16)),
    element(0x0028, 0x0102, "US", us(15)),
    element(0x0028, 0x0103, "US", us(0)),
    // Center/width such that DICOM's linear window maps 16 * g back onto g.
    element(0x0028, 0x1050, "DS", text("2040")),
    element(0x0028, 0x1051, "DS", text("4081")),
    element(0x7fe0, 0x0010, "OW", pixels),
  ]);
  const buffer = Buffer.concat([
    Buffer.alloc(128),
    Buffer.from("DICM", "ascii"),
    element(2, 0x0000, "UL", groupLength),
    meta,
    dataset,
  ]);
  return { name, mimeType: "application/dicom", buffer };
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
 * Something that is not an MRI slice: a bar chart (three coloured bars and black axes on white),
 * as a 24-bit BMP. The server must refuse it rather than classify it.
 */
export function chartFile(name = "chart.bmp") {
  const bars = [
    { from: 40, to: 80, height: 150, rgb: [220, 60, 50] },
    { from: 100, to: 140, height: 90, rgb: [50, 120, 220] },
    { from: 160, to: 200, height: 190, rgb: [60, 170, 80] },
  ];
  // Small y is the bottom: BMP rows run bottom-up.
  const buffer = bmp(240, (x, y) => {
    if ((x >= 28 && x < 31 && y >= 20) || (y >= 20 && y < 23 && x >= 28)) return [0, 0, 0];
    const bar = bars.find((b) => x >= b.from && x < b.to && y >= 23 && y < 23 + b.height);
    return bar ? bar.rgb : [255, 255, 255];
  });
  return { name, mimeType: "image/bmp", buffer };
}
