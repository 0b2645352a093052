"""ZeRO over a layer's DP group, on the flat bucket of that layer (data_parallel.Unit).

zero1: gradients all-reduced as in DDP; Adam states kept only for this rank's 1/dp slice of the bucket;
       after the update the slices are all-gathered back into the full parameters.
zero2: like zero1 but each micro-batch's bucket gradient is reduce-scattered as soon as backward has
       accumulated it (a post-accumulate-grad hook) and only this rank's slice is kept: the full bucket
       gradient lives only while one layer's backward finishes (DeepSpeed's stage 2 does the same).
zero3: only the 1/dp parameter slice is stored. Forward all-gathers the full bucket (GatherFlat) and
       frees it after the layer; backward all-gathers it again when the first saved weight is needed
       (zero3_packer below, through memory.saved_tensor_hooks) and reduce-scatters the bucket gradient, per micro-batch.

Why not fully_shard (FSDP2): every layer has its own DP group inside a pipeline stage and our own
TP shards and re-distribution; fully_shard's reduce-scatter averages over its mesh, runs in its own
module hooks per micro-batch, and on gloo/CPU with float64 it is not what the tests can rely on. The
three operations it would do for us (gather, re-gather for backward, reduce-scatter) are the ~80 lines
here, over explicit groups, and the numerics are identical to the reference by construction.
With full recompute the re-gather comes from the recomputed forward itself, so no hooks are installed.
"""
from __future__ import annotations

import torch

from . import memory
from .comm import Group


def shard_bounds(padded: int, group: Group) -> tuple[int, int]:
    per = padded // group.size
    r = max(group.rank, 0)
    return r * per, (r + 1) * per


class GatherFlat(torch.autograd.Function):
    """shard -> full flat bucket (all-gather); backward: reduce-scatter (sum) of the bucket gradient."""

    @staticmethod
    def forward(ctx, shard, group: Group, padded: int):
        ctx.group = group
        full = shard.new_empty(padded)
        return group.all_gather_flat_(full, shard.detach())

    @staticmethod
    def backward(ctx, g):
        return ctx.group.reduce_scatter_cat(g.contiguous(), 0), None, None


def zero3_packer(full: torch.Tensor, shard: torch.Tensor, group: Group, padded: int) -> memory.AliasPacker:
    """Tensors saved for backward that alias the gathered bucket ``full`` become markers: the bucket is
    freed after the forward and all-gathered again for the backward (memory.saved_tensor_hooks)."""

    def regather() -> torch.Tensor:
        return group.all_gather_flat_(shard.new_empty(padded), shard.detach())

    return memory.AliasPacker(full, regather)


def reduce_scatter_flat(grad: torch.Tensor, group: Group) -> torch.Tensor:
    return group.reduce_scatter_cat(grad, 0)
