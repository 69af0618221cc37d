/**
 * Small MRI-like test images made on the fly: a bright textured ellipse on black, encoded as a
 * 24-bit BMP (which needs no library). `variant` changes the texture, so each has different bytes.
 */
export function sliceBmp(variant: number, size = 128): Buffer {
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
  const centre = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x - centre) / (size * 0.4);
      const dy = (y - centre) / (size * 0.45);
      const inside = dx * dx + dy * dy < 1;
      const texture = (x * (7 + variant) + y * 13) % 40;
      const value = inside ? 80 + texture : 3;
      const offset = 54 + y * rowBytes + x * 3;
      buffer[offset] = value;
      buffer[offset + 1] = value;
      buffer[offset + 2] = value;
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
  const size = 160;
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
      // BMP rows run bottom-up: small y is the ground.
      const sun = (x - 110) ** 2 + (y - 120) ** 2 < 22 ** 2;
      const [r, g, b] = sun ? [250, 215, 40] : y < 50 ? [60, 170, 70] : [90, 150, 235];
      const offset = 54 + y * rowBytes + x * 3;
      buffer[offset] = b;
      buffer[offset + 1] = g;
      buffer[offset + 2] = r;
    }
  }
  return { name, mimeType: "image/bmp", buffer };
}
