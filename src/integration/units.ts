/**
 * How the API rounds measured and computed values: floating-point arithmetic in the loop gives
 * 6899.999999 W, which no meter shows and no partner wants. Power and energy in whole W / Wh,
 * current and percentages to one decimal.
 */
function rounder(decimals: number) {
  const f = 10 ** decimals;
  // `+ 0` turns -0 (a tiny negative rounded) into 0.
  return (x: number): number => Math.round(x * f) / f + 0;
}

/** W and Wh: whole numbers. */
export const watts = rounder(0);
/** A: one decimal. */
export const amps = rounder(1);
/** %: one decimal. */
export const percent = rounder(1);

/** The same rounding for a value that may be missing (null stays null). */
export function orNull(round: (x: number) => number, x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : round(x);
}
