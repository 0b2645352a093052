// Galvatron-TS as a library: the same calls the CLI makes.
export { loadModel, resolveModelSpec } from './model/load.js';
export { MODEL_PRESETS, listModelPresets } from './model/presets.js';
export { parameterCounts, layerList, embeddingShape } from './model/derived.js';
export type { ModelSpec, ModelSpecInput, LayerShape } from './model/spec.js';
export { loadCluster, scaleCluster, listClusterPresets } from './hardware/load.js';
export type { ClusterSpec, GpuSpec } from './hardware/spec.js';
export { estimate, type Estimate, type EstimateReport } from './cost/estimate.js';
export { pricePlan, type PlanCost, type PlanInput } from './cost/plan-cost.js';
export { uniformPlanInput, type UniformConfig } from './cost/uniform-plan.js';
export { searchPlan, type SearchOptions, type SearchResult } from './search/search.js';
export { priceBaselines, type BaselineResult } from './search/baselines.js';
export { defaultRules, galvatronV1Rules, stageCandidates, type CandidateRules } from './strategy/candidates.js';
export { PlanSchema, PLAN_FORMAT, type Plan } from './plan/schema.js';
export { planFromCost } from './plan/from-cost.js';
export { loadProfile, loadProfiles } from './profile/load.js';
export { ProfileV2Schema, PROFILE_FORMAT, type Profile } from './profile/schema.js';
export { profileNotes, termSources, type TermSource } from './profile/coverage.js';
export { UserInputError } from './errors.js';
