"""Context parallelism: the sequence split over a layer's CP group, attention over the gathered keys.

A CP rank holds two of 2·cp sequence chunks, c and 2·cp − 1 − c (plan.cp_spans: Megatron-LM's and
TransformerEngine's causal load balancing). Everything but attention is per token and runs on the rank's
tokens alone. Attention needs every key of the sequence: each rank all-gathers K and V along the sequence
over its CP group (backward: reduce-scatter of their gradients), which is what the cost model prices
(src/cost/layer-time.ts cpForwardCommS: an all-gather of K/V over the CP group, and twice that in backward).
The gathered K and V are not kept for backward: like TransformerEngine's all-gather CP, the attention keeps
the rank's own K and V and gathers them again in backward (memory.AliasPacker), so a layer keeps what
src/cost/layer-memory.ts counts (its local Q, K, V, output and log-sum-exp).

The causal mask is built from the real positions: query position i sees key position j when j ≤ i. It is
one additive [local tokens, cp · local tokens] table per CP rank (0 or −inf, the attention dtype), built
once and shared by every layer and micro-batch, like the RoPE tables (a constant, not an activation).
RoPE rotates q and k by their real positions before the gather, learned positions are looked up at them
(model.embed_forward), and dropout masks are sliced at them (dropout.py): so every value equals the
single-process run's.

Cost of the mask: SDPA with an explicit mask computes every score, the masked ones too, so a causal CP
layer does about twice the attention FLOPs of the flash kernel the cost model prices (which skips the masked
half); a kernel that skips masked blocks per chunk (TransformerEngine's) would need the per-chunk
log-sum-exp that SDPA does not return. Correctness first; the memory is as priced.

Why our own and not torch.distributed.tensor.experimental.context_parallel: that one shards whole
buffers of one module over one mesh, with its own load-balancing order and ring SDPA; here every layer has
its own CP degree inside a stage, with activations re-distributed between layers of different layouts
(redistribute.py), TP/SP and ZeRO groups of its own, and positions that must stay those of the plan.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .comm import Group
from .plan import Spans
from .sp import gather_seq, gather_seq_for_linear

# The sequence dimension of attention's [batch, heads, seq, head_dim] tensors.
HEAD_SEQ_DIM = 2


def positions(spans: Spans, device=None) -> torch.Tensor:
    """The token positions the spans hold, in their order (int64)."""
    return torch.cat([torch.arange(a, b, dtype=torch.int64) for a, b in spans]).to(device)


def causal_mask(query_pos: torch.Tensor, key_pos: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask [queries, keys]: 0 where the key's position ≤ the query's, −inf elsewhere."""
    visible = key_pos.unsqueeze(0) <= query_pos.unsqueeze(1)
    return torch.zeros(visible.shape, dtype=dtype, device=query_pos.device).masked_fill(~visible, float("-inf"))


@dataclass
class CpAttention:
    """What one CP rank's attention needs: its CP group and, for causal models, the mask of its queries
    (its CP part) over the gathered keys (every member's part, in group order)."""

    group: Group
    mask: torch.Tensor | None


def gather_kv(x: torch.Tensor, group: Group, regather: bool) -> torch.Tensor:
    """K or V of the whole CP group from this rank's part. ``regather``: what attention saves of the
    gathered tensor is replaced by a marker and gathered again in backward, keeping only ``x`` (off inside
    a recomputed region, which keeps nothing of it anyway)."""
    return (gather_seq_for_linear if regather else gather_seq)(x, group, HEAD_SEQ_DIM)
