// Per-layer, per-candidate cost vectors, priced once by the cost model and shared by every stage DP.
import { bytesPerElement } from '../cost/kernels.js';
import { layerMemory } from '../cost/layer-memory.js';
import { layerTime, type LayerCostContext } from '../cost/layer-time.js';
import { embeddingCost, headCost, type EndCost } from '../cost/embedding.js';
import { transitionTimeS } from '../cost/transition.js';
import { layerCommExcessS, optimizerShard, OPTIMIZER_BYTES_PER_PARAM } from '../cost/plan-cost.js';
import { memoryBoundTimeS } from '../cost/kernels.js';
import { p2pTimeS } from '../hardware/collectives.js';
import { carriedTokens, layerParametersPerTpRank, streamTokens } from '../model/derived.js';
import type { EmbeddingShape, LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { ZERO_VECTOR, type StageVector } from './stage-vector.js';

/** One layer under one strategy: time and memory parts, the activations kept per micro-batch apart. */
export interface LayerOption {
  forwardS: number;
  backwardS: number;
  /** Exposed sync/gather + optimizer work (without the optimizer's fixed launch cost). */
  tailS: number;
  modelStateBytes: number;
  activationBytes: number;
  transientBytes: number;
}


/**
 * Layer and end prices that do not depend on the number of interleaved chunks: tables of one micro-batch
 * size share them (only the exposed part of the sync depends on the chunks).
 */
export interface SharedPrices {
  layers: Map<string, { time: ReturnType<typeof layerTime>; memory: ReturnType<typeof layerMemory> }>;
  ends: Map<string, EndCost>;
}

export function sharedPrices(): SharedPrices {
  return { layers: new Map(), ends: new Map() };
}

export class LayerOptionTable {
  private readonly cache = new Map<string, LayerOption>();
  constructor(
    private readonly ctx: LayerCostContext,
    private readonly microBatchSamples: number,
    private readonly rope: boolean,
    private readonly virtualStages = 1,
    private readonly shared: SharedPrices = sharedPrices(),
  ) {}

  /** Exposed communication of a layer or end plus its optimizer work (pricePlan's per-stage tail terms). */
  private tailS(time: { forwardS: number; backwardS: number; gradientSyncS: number; parameterGatherS: number }, optimizerParams: number): number {
    const optimizerS = memoryBoundTimeS(this.ctx.kernel, optimizerParams * OPTIMIZER_BYTES_PER_PARAM, 0);
    return layerCommExcessS(time, this.ctx.cluster.overlapSlowdown, this.virtualStages) + optimizerS;
  }

  option(shape: LayerShape, strategy: LayerStrategy, strategyKey: string): LayerOption {
    const key = `${shape.typeId}|${strategyKey}`;
    let cached = this.cache.get(key);
    if (!cached) {
      let priced = this.shared.layers.get(key);
      if (!priced) {
        priced = { time: layerTime(shape, strategy, this.microBatchSamples, this.ctx, { rope: this.rope }), memory: layerMemory(shape, strategy, this.microBatchSamples, this.ctx.setup) };
        this.shared.layers.set(key, priced);
      }
      const { time, memory } = priced;
      cached = {
        forwardS: time.forwardS,
        backwardS: time.backwardS,
        tailS: this.tailS(time, optimizerShard(layerParametersPerTpRank(shape, strategy.tp), strategy)),
        modelStateBytes: memory.modelStateBytes,
        activationBytes: memory.activationBytesPerMicroBatch,
        transientBytes: memory.peakTransientBytes,
      };
      this.cache.set(key, cached);
    }
    return cached;
  }

  /** The layer's contribution to a stage that holds `inFlight` micro-batches. */
  vector(shape: LayerShape, strategy: LayerStrategy, strategyKey: string, inFlight: number, fragmentation: number): StageVector {
    const o = this.option(shape, strategy, strategyKey);
    return {
      busyS: o.forwardS + o.backwardS,
      tailS: o.tailS,
      memoryBytes: o.modelStateBytes + o.activationBytes * inFlight * fragmentation,
      transientBytes: o.transientBytes,
    };
  }

  /** Re-distribution into layer `shape`'s layout (pricePlan's): a T5's two streams move together; into the head only the layer's own. */
  transitionS(from: LayerStrategy, to: LayerStrategy, shape: LayerShape, intoHead = false): number {
    const tokens = intoHead ? shape.seqLen : carriedTokens(shape);
    return transitionTimeS(from, to, this.microBatchSamples, tokens, shape.hidden, this.ctx.setup.precision, this.ctx.cluster);
  }

  /** The embedding's or head's cost, priced once per strategy (the model has one embedding shape). */
  private endCost(key: string, price: () => EndCost): EndCost {
    let cost = this.shared.ends.get(key);
    if (!cost) this.shared.ends.set(key, (cost = price()));
    return cost;
  }

  /** Embedding (first stage) and head (last stage) under the embedding strategy. */
  endsVector(
    emb: EmbeddingShape,
    strategy: LayerStrategy,
    hasEmbedding: boolean,
    hasHead: boolean,
    holdsEmbeddingCopy: boolean,
    inFlight: number,
    fragmentation: number,
  ): StageVector {
    const ends: EndCost[] = [];
    const key = `${strategy.tp}|${strategy.sequenceParallel}|${strategy.cp}|${strategy.dp}|${strategy.dpType}|${strategy.recompute}|${strategy.tpConsecutive}`;
    if (hasEmbedding) ends.push(this.endCost(`e|${key}`, () => embeddingCost(emb, strategy, this.microBatchSamples, this.ctx)));
    if (hasHead) ends.push(this.endCost(`h|${holdsEmbeddingCopy}|${key}`, () => headCost(emb, strategy, this.microBatchSamples, this.ctx, holdsEmbeddingCopy)));
    let v = ZERO_VECTOR;
    for (const end of ends) {
      v = {
        busyS: v.busyS + end.forwardS + end.backwardS,
        tailS: v.tailS + this.tailS(end, optimizerShard(end.parametersPerTpRank, strategy)),
        memoryBytes: v.memoryBytes + end.modelStateBytes + end.activationBytesPerMicroBatch * inFlight * fragmentation,
        transientBytes: Math.max(v.transientBytes, end.peakTransientBytes),
      };
    }
    return v;
  }

  /** Point-to-point sends of a stage whose first layer runs `first` (pricePlan's accounting). */
  p2p(first: LayerStrategy, emb: EmbeddingShape, sendsForward: number, sendsBackward: number, crossesNodes: boolean): { forwardS: number; backwardS: number } {
    const sends = sendsForward + sendsBackward;
    if (sends === 0) return { forwardS: 0, backwardS: 0 };
    // pricePlan splits the total between forward and backward; the search only needs their sum.
    const bytes = ((this.microBatchSamples / first.dp) * (streamTokens(emb) / first.cp) * emb.hidden * bytesPerElement(this.ctx.setup.precision)) / first.tp;
    const total = sends * p2pTimeS(this.ctx.cluster, bytes, crossesNodes);
    return { forwardS: (sendsForward / sends) * total, backwardS: (sendsBackward / sends) * total };
  }
}
