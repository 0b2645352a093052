// `galvatron export`: a plan in the form another engine reads. Megatron-LM, DeepSpeed and Galvatron;
// torchtitan is refused with a clear message until its exporter lands.
import { UserInputError } from '../../errors.js';
import type { Plan } from '../schema.js';
import type { ExportResult, ExportTarget } from './adapt.js';
import { exportDeepSpeed } from './deepspeed.js';
import { exportGalvatron } from './galvatron.js';
import { exportMegatron } from './megatron.js';

export { EXPORT_TARGETS, type ExportResult, type ExportTarget } from './adapt.js';

export function exportPlan(plan: Plan, target: ExportTarget): ExportResult {
  switch (target) {
    case 'megatron':
      return exportMegatron(plan);
    case 'galvatron':
      return exportGalvatron(plan);
    case 'deepspeed':
      return exportDeepSpeed(plan);
    case 'torchtitan':
      throw new UserInputError('to', 'the torchtitan exporter is not built yet; use megatron, deepspeed or galvatron');
  }
}
