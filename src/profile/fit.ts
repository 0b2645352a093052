// Least-squares fits of measured times: fixed + slope·size for layers over micro-batch sizes, α–β for
// collectives over buffer sizes. Both minimise the relative error (weights 1/y²), so the small sizes
// that carry the fixed cost count as much as the large ones that carry the slope.
import type { TimeFit } from './schema.js';

export interface Line {
  intercept: number;
  slope: number;
}

/**
 * y ≈ intercept + slope·x with intercept ≥ 0 and slope ≥ 0, weighted by 1/y². One point: the line
 * through the origin. A negative intercept refits through the origin; a negative slope keeps the
 * weighted mean as a constant.
 */
export function fitLine(points: readonly { x: number; y: number }[]): Line {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.y > 0 && p.x > 0);
  if (usable.length === 0) return { intercept: 0, slope: 0 };
  const w = usable.map((p) => 1 / (p.y * p.y));
  const throughOrigin = (): Line => {
    let sxy = 0;
    let sxx = 0;
    usable.forEach((p, i) => {
      sxy += w[i]! * p.x * p.y;
      sxx += w[i]! * p.x * p.x;
    });
    return { intercept: 0, slope: sxx > 0 ? sxy / sxx : 0 };
  };
  if (usable.length === 1 || new Set(usable.map((p) => p.x)).size === 1) return throughOrigin();
  let sw = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  usable.forEach((p, i) => {
    const wi = w[i]!;
    sw += wi;
    sx += wi * p.x;
    sy += wi * p.y;
    sxx += wi * p.x * p.x;
    sxy += wi * p.x * p.y;
  });
  const det = sw * sxx - sx * sx;
  const slope = (sw * sxy - sx * sy) / det;
  const intercept = (sy - slope * sx) / sw;
  if (slope < 0) return { intercept: sy / sw, slope: 0 };
  if (intercept < 0) return throughOrigin();
  return { intercept, slope };
}

/** fixed + perSample·b over (micro-batch, seconds) points. */
export function fitTime(points: readonly { microBatch: number; seconds: number }[]): TimeFit {
  const line = fitLine(points.map((p) => ({ x: p.microBatch, y: p.seconds })));
  return { fixedS: line.intercept, perSampleS: line.slope };
}
