// The rules that tie a plan's fields together, as `galvatron train` checks them before any process starts: the plan is a valid galvatron.plan/v1, it
// matches its own model, the executor can run every part of it, and the ranks to be started are exactly
// the ranks it needs. Each refusal names the field and the fix (exit 2). python/galvatron_runtime/plan.py
// repeats these checks on every rank, as a guard for plans handed to it directly.
import { UserInputError } from '../errors.js';
import type { Plan } from './schema.js';
import { strategyGpus, type LayerStrategy } from '../strategy/layer-strategy.js';
import { EXECUTOR_CP_CHUNKS_PER_RANK, EXECUTOR_FAMILIES } from './executor-support.js';

const divisorsOf = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

function divides(field: string, degree: number, what: string, size: number, flag = 'tp'): void {
  if (size % degree !== 0) {
    const options = divisorsOf(size).filter((d) => d <= Math.max(degree, 8));
    throw new UserInputError(field, `${flag} ${degree} does not divide the model's ${size} ${what}; use one of ${options.join(', ')}`);
  }
}

/** Ranks one copy of the plan runs on: pipeline stages × GPUs per stage. */
export function planWorldSize(plan: Plan): number {
  return plan.pipeline.degree * strategyGpus(plan.embedding);
}

function checkStrategy(plan: Plan, field: string, s: LayerStrategy, gpusPerStage: number, layerIndex?: number): void {
  const isEmbedding = layerIndex === undefined;
  const m = plan.model;
  const product = s.tp * s.cp * s.dp;
  if (product !== gpusPerStage) {
    throw new UserInputError(field, `tp·cp·dp = ${s.tp}·${s.cp}·${s.dp} = ${product}, but every stage has ${gpusPerStage} ranks (plan.embedding); make the degrees multiply to ${gpusPerStage}`);
  }
  if (m.family === 't5') checkT5Strategy(plan, field, s);
  if (m.family === 'swin') checkSwinStrategy(plan, field, s, layerIndex);
  const microBatch = plan.training.globalBatch / plan.training.microBatches;
  if (microBatch % s.dp !== 0) {
    throw new UserInputError(`${field}.dp`, `a micro-batch of ${microBatch} samples (globalBatch / microBatches) does not split over dp ${s.dp}; use fewer micro-batches or a dp that divides ${microBatch}`);
  }
  const seqLen = plan.training.seqLen;
  const chunks = EXECUTOR_CP_CHUNKS_PER_RANK * s.cp;
  if (s.cp > 1 && seqLen % chunks !== 0) {
    throw new UserInputError(`${field}.cp`, `seqLen ${seqLen} does not split into 2·cp = ${chunks} chunks (context parallelism balances the causal mask over 2·cp chunks); use a cp for which 2·cp divides ${seqLen}, or {{seqLen}} a multiple of ${chunks}`);
  }
  if (s.sequenceParallel && s.tp > 1 && (seqLen / s.cp) % s.tp !== 0) {
    const tokens = s.cp > 1 ? `the ${seqLen / s.cp} tokens per CP rank` : `seqLen ${seqLen}`;
    throw new UserInputError(`${field}.sequenceParallel`, `${tokens} do not split over tp ${s.tp}; turn sequence parallelism off or pick a tp that divides them`);
  }
  if (isEmbedding) {
    divides(`${field}.tp`, s.tp, 'vocabulary entries (vocab-parallel embedding)', m.vocab);
    return;
  }
  if (m.family === 'swin') return; // per stage in checkSwinStrategy
  divides(`${field}.tp`, s.tp, 'attention heads', m.heads);
  divides(`${field}.tp`, s.tp, 'key/value heads', m.kvHeads ?? m.heads);
  divides(`${field}.tp`, s.tp, 'FFN channels', m.ffnHidden ?? 4 * m.hidden);
}

/** ViT (python/galvatron_runtime/vision.py): patches + class token, learned positions, an untied classifier. */
function checkVit(plan: Plan): void {
  const m = plan.model;
  if (!m.image) throw new UserInputError('plan.model.image', 'missing; a vit model needs {imageSize, patchSize, channels}');
  const { imageSize, patchSize } = m.image;
  if (imageSize % patchSize !== 0) throw new UserInputError('plan.model.image.patchSize', `${patchSize} does not divide imageSize ${imageSize}`);
  const tokens = (imageSize / patchSize) ** 2 + 1;
  if (m.seqLen !== tokens) throw new UserInputError('plan.model.seqLen', `a vit sequence is its ${tokens - 1} patches + the class token = ${tokens}, not ${m.seqLen}`);
  if (m.tiedEmbeddings) throw new UserInputError('plan.model.tiedEmbeddings', 'a vit classifier has no word table to tie to; set it to false');
  if (m.positional !== 'learned') throw new UserInputError('plan.model.positional', `the executor's vit learns its positions (learned), not ${m.positional}`);
  if (plan.training.seqLen !== m.seqLen) throw new UserInputError('plan.training.seqLen', `a vit trains on its whole image: ${m.seqLen} tokens, not ${plan.training.seqLen}`);
  if ((plan.embedding.cp ?? 1) > 1) throw new UserInputError('plan.embedding.cp', "a vit's patch embedding and classifier run without context parallelism; use cp 1");
}

/** One Swin layer's stage and token count as src/model/derived.ts swinGroups prices it (python: plan.swin_layers). */
interface SwinLayerShape {
  stage: number;
  heads: number;
  ffnHidden: number;
  tokens: number;
}

function swinLayerShapes(plan: Plan): SwinLayerShape[] {
  const m = plan.model;
  const side = m.image!.imageSize / m.image!.patchSize;
  const ffn = m.ffnHidden ?? 4 * m.hidden;
  return m.swin!.depths.flatMap((depth, stage) =>
    Array.from({ length: depth }, () => ({ stage, heads: m.swin!.stageHeads[stage]!, ffnHidden: ffn * 2 ** stage, tokens: (side / 2 ** stage) ** 2 })),
  );
}

/** Swin (python/galvatron_runtime/swin.py): stages of window attention joined by patch merging, trained on its whole image. */
function checkSwin(plan: Plan): void {
  const m = plan.model;
  if (!m.image) throw new UserInputError('plan.model.image', 'missing; a swin model needs {imageSize, patchSize, channels}');
  if (!m.swin) throw new UserInputError('plan.model.swin', 'missing; a swin model needs {depths, stageHeads, windowSize}');
  const { imageSize, patchSize } = m.image;
  const { depths, stageHeads, windowSize } = m.swin;
  if (imageSize % patchSize !== 0) throw new UserInputError('plan.model.image.patchSize', `${patchSize} does not divide imageSize ${imageSize}`);
  const side = imageSize / patchSize;
  if (m.seqLen !== side * side) throw new UserInputError('plan.model.seqLen', `a swin sequence is its ${side * side} patches, not ${m.seqLen}`);
  if (m.tiedEmbeddings) throw new UserInputError('plan.model.tiedEmbeddings', 'a swin classifier has no word table to tie to; set it to false');
  if (m.positional !== 'none') throw new UserInputError('plan.model.positional', `a swin places tokens by its windows' relative position bias (none), not ${m.positional}`);
  if (stageHeads.length !== depths.length) throw new UserInputError('plan.model.swin.stageHeads', `${stageHeads.length} entries but depths has ${depths.length}; one per stage`);
  const layers = depths.reduce((a, b) => a + b, 0);
  if (layers !== m.layers) throw new UserInputError('plan.model.layers', `${m.layers} is not the sum of swin.depths ${layers}`);
  if (m.heads !== stageHeads[0]) throw new UserInputError('plan.model.heads', `${m.heads} is not swin.stageHeads[0] ${stageHeads[0]} (heads is the first stage's)`);
  if (side % 2 ** (depths.length - 1) !== 0) {
    throw new UserInputError('plan.model.image.imageSize', `the ${side}×${side} patch grid cannot be halved ${depths.length - 1} times for ${depths.length} stages`);
  }
  stageHeads.forEach((heads, i) => {
    if ((m.hidden * 2 ** i) % heads !== 0) throw new UserInputError(`plan.model.swin.stageHeads[${i}]`, `stage width ${m.hidden * 2 ** i} is not divisible by ${heads} heads`);
    const grid = side / 2 ** i;
    const w = Math.min(windowSize, grid);
    if (grid % w !== 0) {
      throw new UserInputError('plan.model.swin.windowSize', `windows of ${w}×${w} tokens do not tile stage ${i + 1}'s ${grid}×${grid} grid; use a window that divides every stage's grid`);
    }
  });
  if (plan.training.seqLen !== m.seqLen) throw new UserInputError('plan.training.seqLen', `a swin trains on its whole image: ${m.seqLen} tokens, not ${plan.training.seqLen}`);
}

/** A swin strategy: no CP; TP splits each layer's stage heads and MLP; SP splits each layer's tokens (the embedding's layout holds the first stage's and, at the head, the last stage's). */
function checkSwinStrategy(plan: Plan, field: string, s: LayerStrategy, layerIndex: number | undefined): void {
  if (s.cp > 1) throw new UserInputError(`${field}.cp`, 'the executor runs swin without context parallelism (windows and patch merging need the whole grid); use cp 1');
  const shapes = swinLayerShapes(plan);
  let tokens: number[];
  let what: string;
  if (layerIndex === undefined) {
    tokens = [plan.model.seqLen, shapes[shapes.length - 1]!.tokens];
    what = `the embedding's ${tokens[0]} and the head's ${tokens[1]}`;
  } else {
    const layer = shapes[layerIndex]!;
    tokens = [layer.tokens];
    what = `this layer's ${layer.tokens}`;
    if (layer.heads % s.tp !== 0) throw new UserInputError(`${field}.tp`, `stage ${layer.stage + 1}'s ${layer.heads} heads do not split over tp ${s.tp}; use a tp that divides them`);
    if (layer.ffnHidden % s.tp !== 0) throw new UserInputError(`${field}.tp`, `stage ${layer.stage + 1}'s ffnHidden ${layer.ffnHidden} does not split over tp ${s.tp}; use a tp that divides it`);
  }
  if (s.sequenceParallel && s.tp > 1 && tokens.some((t) => t % s.tp !== 0)) {
    throw new UserInputError(`${field}.sequenceParallel`, `SP splits ${what} tokens over tp ${s.tp}: they must divide by it; turn SP off or pick a tp that divides them`);
  }
}

/** T5 (python/galvatron_runtime/t5.py): encoder + decoder layers, relative positions, trained at its priced lengths. */
function checkT5(plan: Plan): void {
  const m = plan.model;
  if (m.encoderLayers === undefined) throw new UserInputError('plan.model.encoderLayers', 'missing; a t5 needs encoderLayers and decoderLayers');
  if (m.decoderLayers === undefined) throw new UserInputError('plan.model.decoderLayers', 'missing; a t5 needs encoderLayers and decoderLayers');
  if (m.encoderLayers + m.decoderLayers !== m.layers) {
    throw new UserInputError('plan.model.layers', `${m.layers} is not encoderLayers ${m.encoderLayers} + decoderLayers ${m.decoderLayers}; set layers to their sum`);
  }
  if (m.positional !== 'none') throw new UserInputError('plan.model.positional', `a t5 places tokens by its relative-position buckets (positional none), not ${m.positional}`);
  if (plan.training.seqLen !== m.seqLen) {
    throw new UserInputError('plan.training.seqLen', `a t5's encoder runs plan.model.seqLen = ${m.seqLen} tokens as priced, not ${plan.training.seqLen}; plan with {{seqLen}} ${plan.training.seqLen} to change the model's`);
  }
}

/** A t5 strategy: no context parallelism; SP splits both streams (every layout holds the encoder's and the decoder's tokens). */
function checkT5Strategy(plan: Plan, field: string, s: LayerStrategy): void {
  const m = plan.model;
  if (s.cp > 1) {
    throw new UserInputError(`${field}.cp`, 'the executor runs t5 without context parallelism (its relative-position bias and cross-attention are not split over CP); use cp 1');
  }
  const decoderSeqLen = m.decoderSeqLen ?? m.seqLen;
  if (s.sequenceParallel && s.tp > 1 && (m.seqLen % s.tp !== 0 || decoderSeqLen % s.tp !== 0)) {
    throw new UserInputError(`${field}.sequenceParallel`, `SP splits both of a t5's streams over tp ${s.tp}: the encoder's ${m.seqLen} and the decoder's ${decoderSeqLen} tokens must both divide by it; turn SP off or pick a tp that divides both`);
  }
}

/**
 * Refuses, with the field and the fix, a plan the executor cannot run as written. `ranks` is the number of
 * processes that would start (undefined: not known yet).
 */
export function validatePlanForExecutor(plan: Plan, ranks?: number): void {
  const m = plan.model;
  if (!(EXECUTOR_FAMILIES as readonly string[]).includes(m.family)) {
    throw new UserInputError('plan.model.family', `the executor builds ${EXECUTOR_FAMILIES.join(', ')} models, not ${m.family}; plan a model of those families`);
  }
  if (m.family !== 't5') {
    for (const key of ['encoderLayers', 'decoderLayers', 'decoderSeqLen'] as const) {
      if (m[key] !== undefined) throw new UserInputError(`plan.model.${key}`, `not used by family ${m.family}; remove it`);
    }
  }
  if (m.family !== 'swin' && m.hidden % m.heads !== 0) throw new UserInputError('plan.model.heads', `hidden ${m.hidden} does not split into ${m.heads} heads; use heads that divide hidden`);
  if (m.heads % (m.kvHeads ?? m.heads) !== 0) throw new UserInputError('plan.model.kvHeads', `${m.kvHeads} does not divide heads ${m.heads}; use a divisor`);
  if (m.positional === 'rope' && (m.hidden / m.heads) % 2 !== 0) {
    throw new UserInputError('plan.model.positional', `RoPE rotates pairs of channels, and the head dimension ${m.hidden / m.heads} is odd; use heads that give an even head dimension`);
  }
  if (m.positional === 'alibi') throw new UserInputError('plan.model.positional', 'ALiBi is not built by the executor; use learned, rope or none');
  if (m.family === 'vit') checkVit(plan);
  if (m.family === 't5') checkT5(plan);
  if (m.family === 'swin') checkSwin(plan);
  if (plan.layers.length !== m.layers) {
    throw new UserInputError('plan.layers', `${plan.layers.length} strategies for a ${m.layers}-layer model; give exactly one per layer (plan.model.layers)`);
  }
  const { degree, virtualStages, chunks, schedule } = plan.pipeline;
  if (chunks.length !== degree * virtualStages) {
    throw new UserInputError('plan.pipeline.chunks', `${chunks.length} chunks, but degree·virtualStages = ${degree}·${virtualStages} = ${degree * virtualStages}; give one layer range per chunk`);
  }
  let next = 0;
  chunks.forEach((chunk, j) => {
    if (chunk.start !== next) throw new UserInputError(`plan.pipeline.chunks[${j}].start`, `is ${chunk.start}, expected ${next}: chunks cover the layers in order without gaps`);
    if (chunk.end <= chunk.start) throw new UserInputError(`plan.pipeline.chunks[${j}].end`, 'an empty chunk cannot run; make end > start');
    next = chunk.end;
  });
  if (next !== m.layers) throw new UserInputError('plan.pipeline.chunks', `cover ${next} layers, but the model has ${m.layers}; the last chunk must end at ${m.layers}`);
  if (virtualStages > 1 && degree === 1) {
    throw new UserInputError('plan.pipeline.virtualStages', `${virtualStages} chunks on one stage: interleaving needs pipeline.degree > 1; use virtualStages 1`);
  }
  if ((schedule === 'interleaved-1f1b') !== virtualStages > 1) {
    throw new UserInputError('plan.pipeline.schedule', `${schedule} with ${virtualStages} virtual stages; interleaved-1f1b goes with virtualStages > 1 and only with it`);
  }
  if (virtualStages > 1 && plan.training.microBatches % degree !== 0) {
    throw new UserInputError('plan.training.microBatches', `interleaved 1F1B needs microBatches (${plan.training.microBatches}) divisible by pipeline.degree (${degree})`);
  }
  if (plan.training.globalBatch % plan.training.microBatches !== 0) {
    throw new UserInputError('plan.training.microBatches', `${plan.training.microBatches} does not divide globalBatch ${plan.training.globalBatch}`);
  }
  if (m.positional === 'learned' && plan.training.seqLen > m.seqLen) {
    throw new UserInputError('plan.training.seqLen', `${plan.training.seqLen} exceeds the model's learned positions (${m.seqLen}); plan with {{seqLen}} ≤ ${m.seqLen}`);
  }
  const e = plan.embedding;
  const gpusPerStage = strategyGpus(e);
  checkStrategy(plan, 'plan.embedding', e, gpusPerStage);
  plan.layers.forEach((s, i) => checkStrategy(plan, `plan.layers[${i}]`, s, gpusPerStage, i));
  const world = planWorldSize(plan);
  if (ranks !== undefined && ranks !== world) {
    throw new UserInputError('plan.pipeline.degree', `the plan runs on ${degree} stage(s) × ${gpusPerStage} ranks = ${world} ranks, but ${ranks} would start; start ${world} ({{nodes}} × {{nprocPerNode}}) or plan for ${ranks} GPUs`);
  }
}
