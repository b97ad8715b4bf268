// Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, written without
// secret-dependent branches or table look-ups so that timing does not leak key bytes.
// Log/exp tables are fast but index memory by secret values (cache-timing); we do not use them.

/** Addition (and subtraction) in GF(2^8) is XOR. */
export function gfAdd(a: number, b: number): number {
  return (a ^ b) & 0xff;
}

/**
 * Multiplication by shift-and-add over all 8 bits of `b`, reducing by 0x1b when the high
 * bit of `a` falls off. Masks (0 or -1) replace the branches a textbook version takes.
 */
export function gfMul(a: number, b: number): number {
  let r = 0;
  let x = a & 0xff;
  let y = b & 0xff;
  for (let i = 0; i < 8; i++) {
    r ^= -(y & 1) & x;
    const carry = -((x >> 7) & 1);
    x = ((x << 1) ^ (carry & 0x1b)) & 0xff;
    y >>= 1;
  }
  return r & 0xff;
}

/**
 * Multiplicative inverse as a^254 (Fermat: a^255 = 1 for a != 0), by a fixed
 * square-and-multiply chain; maps 0 to 0, which callers rule out beforehand.
 */
export function gfInv(a: number): number {
  // 254 = 0b11111110: square then multiply for each of the seven high bits.
  let result = 1;
  let base = a & 0xff;
  for (let bit = 0; bit < 8; bit++) {
    const b2 = gfMul(base, base);
    // bit 0 of 254 is 0; bits 1..7 are 1.
    const take = -((254 >> bit) & 1);
    result = (gfMul(result, base) & take) | (result & ~take);
    base = b2;
  }
  return result & 0xff;
}

/** Division a / b; b must be non-zero (public x-coordinates, checked by the caller). */
export function gfDiv(a: number, b: number): number {
  return gfMul(a, gfInv(b));
}
