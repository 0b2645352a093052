// `galvatron export`: a plan in the form another engine reads. Megatron-LM and Galvatron so far;
// DeepSpeed and torchtitan are refused with a clear message until their exporters land.
import { UserInputError } from '../../errors.js';
import type { Plan } from '../schema.js';
import type { ExportResult, ExportTarget } from './adapt.js';
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
    case 'torchtitan':
      throw new UserInputError('to', `the ${target} exporter is not built yet; use megatron or galvatron`);
  }
}
