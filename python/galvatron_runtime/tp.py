"""Megatron tensor parallelism over an explicit TP group, with our own autograd functions.

Why not DTensor / parallelize_module: a plan gives every layer its own TP degree, DP group and SP flag,
and activations are re-distributed between layers of different layouts (redistribute.py). DTensor
placements are tied to one DeviceMesh per module and would need a mesh per layer layout plus manual
conversions at every boundary; the two conjugate operators below (Megatron's f and g) over explicit
groups are smaller and make the numerics easy to audit against the single-process reference.

Column-parallel linear: weight split on the output dim (dim 0), input replicated (or SP-gathered).
Row-parallel linear: weight split on the input dim (dim 1), partial outputs summed over TP (or
reduce-scattered along the sequence with SP), bias added after the sum.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .comm import Group
from .sp import gather_seq_for_linear, reduce_scatter_seq


class _CopyToTP(torch.autograd.Function):
    """f: identity forward, all-reduce of the input gradient backward."""

    @staticmethod
    def forward(ctx, x, group: Group):
        ctx.group = group
        return x

    @staticmethod
    def backward(ctx, g):
        return ctx.group.all_reduce_(g.contiguous().clone()), None


class _ReduceFromTP(torch.autograd.Function):
    """g: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x, group: Group):
        return group.all_reduce_(x.contiguous().clone())

    @staticmethod
    def backward(ctx, g):
        return g, None


def copy_to_tp(x: torch.Tensor, group: Group) -> torch.Tensor:
    return x if group.size == 1 else _CopyToTP.apply(x, group)


def reduce_from_tp(x: torch.Tensor, group: Group) -> torch.Tensor:
    return x if group.size == 1 else _ReduceFromTP.apply(x, group)


def enter_tp_region(x: torch.Tensor, group: Group, sp: bool) -> torch.Tensor:
    """Input of a column-parallel linear: the full sequence on every TP rank."""
    return gather_seq_for_linear(x, group) if sp else copy_to_tp(x, group)


def exit_tp_region(x: torch.Tensor, group: Group, sp: bool) -> torch.Tensor:
    """Output of a row-parallel linear: sum the partial products over TP."""
    return reduce_scatter_seq(x, group) if sp else reduce_from_tp(x, group)


def column_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x: full input on this TP rank; weight/bias: this rank's output-dim shard."""
    return F.linear(x, weight, bias)


def row_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x: this rank's input-dim shard; returns a partial sum (caller exits the TP region, then adds bias)."""
    return F.linear(x, weight)
