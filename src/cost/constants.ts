// The analytic model's fitted constants, kept as data (calibration.json) and re-fitted by scripts/calibrate.ts.
import calibration from './calibration.json' with { type: 'json' };
import type { CostConstants } from './types.js';

export function loadCostConstants(): CostConstants {
  return { ...calibration.constants };
}
