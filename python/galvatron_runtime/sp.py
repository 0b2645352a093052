"""Megatron sequence parallelism: the sequence dimension (dim 1 of [batch, seq, hidden]) split over TP.

In SP regions (norms, residual adds, biases after the row-parallel linear) each TP rank holds seq/tp
tokens. Entering a column-parallel linear all-gathers the sequence (backward: reduce-scatter); leaving a
row-parallel linear reduce-scatters the partial sums along the sequence (backward: all-gather). Weights
used inside SP regions (norm weights, row-parallel biases, learned positions) therefore see only their
rank's tokens: their gradients are summed over the TP group once per step (data_parallel.py).
"""
from __future__ import annotations

import torch

from . import memory
from .comm import Group

SEQ_DIM = 1


class _GatherSeq(torch.autograd.Function):
    """All-gather along ``dim`` (the sequence: dim 1 of [b, s, h], dim 2 of attention's [b, heads, s, d] in
    cp.py); backward: reduce-scatter (sum) of the gradient."""

    @staticmethod
    def forward(ctx, x, group: Group, dim: int):
        ctx.group, ctx.dim = group, dim
        return group.all_gather_cat(x, dim)

    @staticmethod
    def backward(ctx, g):
        return ctx.group.reduce_scatter_cat(g, ctx.dim), None, None


class _ReduceScatterSeq(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, group: Group):
        ctx.group = group
        return group.reduce_scatter_cat(x, SEQ_DIM)

    @staticmethod
    def backward(ctx, g):
        return ctx.group.all_gather_cat(g, SEQ_DIM), None


def gather_seq(x: torch.Tensor, group: Group, dim: int = SEQ_DIM) -> torch.Tensor:
    return x if group.size == 1 else _GatherSeq.apply(x, group, dim)


def gather_seq_for_linear(x: torch.Tensor, group: Group, dim: int = SEQ_DIM) -> torch.Tensor:
    """``gather_seq`` for the input of column-parallel linears: what they save for backward is the local
    shard, and the full sequence is gathered again in backward (Megatron's sequence parallelism; cp.py
    gathers K and V this way)."""
    if group.size == 1:
        return x
    full = _GatherSeq.apply(x, group, dim)
    shard = x.detach()
    memory.add_packer(memory.AliasPacker(full, lambda: group.all_gather_cat(shard, dim), keep=shard))
    return full


def reduce_scatter_seq(x: torch.Tensor, group: Group) -> torch.Tensor:
    return x if group.size == 1 else _ReduceScatterSeq.apply(x, group)
