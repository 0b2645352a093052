// `galvatron export`: a plan in the form another engine reads (Megatron-LM, DeepSpeed, torchtitan, Galvatron).
import type { Plan } from '../schema.js';
import type { ExportResult, ExportTarget } from './adapt.js';
import { exportDeepSpeed } from './deepspeed.js';
import { exportGalvatron } from './galvatron.js';
import { exportMegatron } from './megatron.js';
import { exportTorchtitan, type TorchtitanFormat } from './torchtitan.js';

export { EXPORT_TARGETS, type ExportResult, type ExportTarget } from './adapt.js';
export { TORCHTITAN_FORMATS, type TorchtitanFormat } from './torchtitan.js';

export interface ExportOptions {
  /** torchtitan's current Python config (default) or the TOML it read until 2026-02-23. */
  torchtitanFormat?: TorchtitanFormat;
}

export function exportPlan(plan: Plan, target: ExportTarget, options: ExportOptions = {}): ExportResult {
  switch (target) {
    case 'megatron':
      return exportMegatron(plan);
    case 'galvatron':
      return exportGalvatron(plan);
    case 'deepspeed':
      return exportDeepSpeed(plan);
    case 'torchtitan':
      return exportTorchtitan(plan, options.torchtitanFormat);
  }
}
