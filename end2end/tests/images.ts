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

/** The grey levels of [`sliceBmp`]'s slice, row by row from the top. */
function slicePixels(variant: number, size: number): number[] {
  const image = sliceBmp(variant, size);
  const rowBytes = Math.ceil((size * 3) / 4) * 4;
  const pixels: number[] = [];
  for (let y = size - 1; y >= 0; y--) {
    for (let x = 0; x < size; x++) pixels.push(image[54 + y * rowBytes + x * 3]);
  }
  return pixels;
}

/** Identifying values the DICOM file carries; the server must keep none of them. */
export const DICOM_PATIENT = { name: "Doe^Jane", id: "PID-7734-E2E" };

/**
 * The same slice as [`sliceBmp`] in a DICOM Part 10 file (Explicit VR Little Endian), as a scanner
 * would write it: 16-bit values (grey level x 16), a window that maps them back onto the grey
 * levels, acquisition tags, and a patient's name and ID that must never be stored.
 */
export function dicomFile(variant: number, size = 128, name = `slice-${variant}.dcm`) {
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
  const instance = `1.2.826.0.1.3680043.2.1125.${variant}`;
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
