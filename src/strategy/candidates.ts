// Per-layer candidate strategies of one pipeline stage: Galvatron's decision tree (DESIGN.md §1).
//
// The n GPUs of a stage are split level by level, one paradigm per level, each paradigm at most once,
// DP and SDP never together; a paradigm that is present has degree > 1 and the degrees multiply to n.
// Of the orders of the levels only two change anything (rank-layout.ts): TP on adjacent ranks or DP on
// adjacent ranks, with CP always between them. Per leaf the flags (SP, DP type, recompute) multiply.
import { DP_TYPES, RECOMPUTE_KINDS, type DpType, type LayerStrategy, type RecomputeKind } from './layer-strategy.js';

/** 'dp' = data parallel with replicated parameters (DDP, ZeRO-1/2); 'sdp' = sharded data parallel (ZeRO-3). */
export type Paradigm = 'tp' | 'cp' | 'dp' | 'sdp';
export type ReplicatedDpType = Exclude<DpType, 'zero3'>;

export interface CandidateRules {
  /** Largest tensor-parallel degree. */
  maxTp: number;
  /** Largest context-parallel degree (1 = no CP). */
  maxCp: number;
  /** Largest pipeline-parallel degree. */
  maxPp: number;
  /** Paradigms the tree may use: tp, cp, dp (replicated parameters), sdp (ZeRO-3). */
  paradigms: Paradigm[];
  /** Types a 'dp' level may take (ZeRO-3 is the 'sdp' paradigm). */
  dpTypes: ReplicatedDpType[];
  /** Activation recomputation kinds to try per layer. */
  recompute: RecomputeKind[];
  /** Megatron sequence parallelism with TP: off, always on, or try both. */
  sequenceParallel: 'off' | 'on' | 'both';
  /** Which group gets the adjacent (fast) ranks when TP and DP are both present: TP only, or try both. */
  tpAdjacency: 'tp-first' | 'both';
}

/** One line per rule, for `galvatron plan --help`. */
export const RULE_HELP: Record<keyof CandidateRules, string> = {
  maxTp: 'largest tensor-parallel degree',
  maxCp: 'largest context-parallel degree (1 = no CP)',
  maxPp: 'largest pipeline-parallel degree',
  paradigms: 'paradigms per layer: tp, cp, dp (DDP/ZeRO-1/2), sdp (ZeRO-3)',
  dpTypes: "types a 'dp' layer may take: ddp, zero1, zero2",
  recompute: 'activation recomputation kinds: none, selective, full',
  sequenceParallel: 'Megatron sequence parallelism with TP: off, on, or both',
  tpAdjacency: "adjacent ranks go to TP ('tp-first') or to TP or DP ('both')",
};

/** Galvatron's original space (v1): TP, DP, SDP, both adjacency orders, no CP/ZeRO-1/2/recompute/SP. */
export function galvatronV1Rules(): CandidateRules {
  return {
    maxTp: Infinity,
    maxCp: 1,
    maxPp: Infinity,
    paradigms: ['tp', 'dp', 'sdp'],
    dpTypes: ['ddp'],
    recompute: ['none'],
    sequenceParallel: 'off',
    tpAdjacency: 'both',
  };
}

/** Our default space: TP up to 8 (one NVLink domain), CP off unless asked, every DP type, recompute and SP. */
export function defaultRules(): CandidateRules {
  return {
    maxTp: 8,
    maxCp: 1,
    maxPp: Infinity,
    paradigms: ['tp', 'cp', 'dp', 'sdp'],
    dpTypes: ['ddp', 'zero1', 'zero2'],
    recompute: ['none', 'selective', 'full'],
    sequenceParallel: 'both',
    tpAdjacency: 'both',
  };
}

/** Model shapes that rule out degrees: TP must split the heads, CP the sequence. */
export interface CandidateLimits {
  heads?: number;
  /** TP must divide the KV heads or be a multiple of them (KV heads are then replicated). */
  kvHeads?: number;
  seqLen?: number;
}

/**
 * The candidate strategies for one layer on a stage of n GPUs. Order (deterministic, no duplicates):
 * tp ascending, then cp ascending (so dp descending), then dpType in DP_TYPES order (ddp, zero1, zero2,
 * zero3), then sequenceParallel false before true, then tpConsecutive true before false, then recompute
 * in RECOMPUTE_KINDS order (none, selective, full). n = 1 gives tp1 dp1 ddp (× recompute kinds).
 */
export function stageCandidates(n: number, rules: CandidateRules, limits: CandidateLimits = {}): LayerStrategy[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`stage size must be a positive integer, got ${n}`);
  const has = new Set(rules.paradigms);
  // Canonical orders, whatever order (or repetition) the rules list them in.
  const recomputeKinds = RECOMPUTE_KINDS.filter((k) => rules.recompute.includes(k));
  const out: LayerStrategy[] = [];
  for (const tp of divisors(n)) {
    if (tp > 1 && !(has.has('tp') && tp <= rules.maxTp && tpFitsHeads(tp, limits))) continue;
    for (const cp of divisors(n / tp)) {
      if (cp > 1 && !(has.has('cp') && cp <= rules.maxCp && (limits.seqLen === undefined || limits.seqLen % (2 * cp) === 0))) continue;
      const dp = n / (tp * cp);
      for (const dpType of dpTypesFor(dp, has, rules)) {
        // SP splits TP's activations along the sequence: meaningless without TP, impossible when TP does
        // not divide a CP rank's tokens (ViT-H's 257: SP was planned, then refused by the executor).
        const spFits = limits.seqLen === undefined || (limits.seqLen / cp) % tp === 0;
        const spChoices = tp === 1 || rules.sequenceParallel === 'off' || !spFits ? [false] : rules.sequenceParallel === 'on' ? [true] : [false, true];
        // The DP-adjacent order differs from the TP-adjacent one only when both groups exist.
        const orders = tp > 1 && dp > 1 && rules.tpAdjacency === 'both' ? [true, false] : [true];
        for (const sequenceParallel of spChoices) {
          for (const tpConsecutive of orders) {
            for (const recompute of recomputeKinds) out.push({ tp, sequenceParallel, cp, dp, dpType, recompute, tpConsecutive });
          }
        }
      }
    }
  }
  return out;
}

/** Pipeline degrees to try: divisors p of the GPU count with p ≤ layers (a stage needs a layer) and p ≤ maxPp. */
export function ppDegrees(totalGpus: number, layers: number, rules: CandidateRules): number[] {
  return divisors(totalGpus).filter((p) => p <= layers && p <= rules.maxPp);
}

/** Size of the search space per layer summed over PP degrees (Galvatron's count: 2K²+K+1 for 2^K GPUs, v1). */
export function countCandidatesOverPp(totalGpus: number, rules: CandidateRules, layers = Infinity): number {
  let count = 0;
  for (const p of ppDegrees(totalGpus, layers, rules)) count += stageCandidates(totalGpus / p, rules).length;
  return count;
}

/** TP must divide the attention heads, and divide the KV heads or be a multiple of them (GQA replicates KV heads). */
function tpFitsHeads(tp: number, limits: CandidateLimits): boolean {
  if (limits.heads !== undefined && limits.heads % tp !== 0) return false;
  if (limits.kvHeads !== undefined && limits.kvHeads % tp !== 0 && tp % limits.kvHeads !== 0) return false;
  return true;
}

/** DP types of a dp-degree level: ddp alone without a DP group (ZeRO has nothing to shard over), else the allowed ones. */
function dpTypesFor(dp: number, has: Set<Paradigm>, rules: CandidateRules): DpType[] {
  if (dp === 1) return ['ddp'];
  return DP_TYPES.filter((t) => (t === 'zero3' ? has.has('sdp') : has.has('dp') && (rules.dpTypes as DpType[]).includes(t)));
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}
