"""Re-distribute activations between adjacent layers whose layouts differ (TP, CP, DP, SP, tpConsecutive).

A micro-batch activation [batch, seq, hidden] is held in blocks: a layer's DP rank d holds the d-th
contiguous batch slice; its CP rank holds two of 2·cp sequence chunks (causal load balancing); over its
TP group that part is replicated, or (SP) split along the sequence (plan.Layout.block: samples and token
spans). Moving from layout A to layout B inside a stage is a pure data movement: every
rank all-gathers the A-blocks over the stage group, assembles the micro-batch and keeps its B-block.
Backward is the same movement from B to A applied to the gradients. Invariant at every layer boundary,
forward and backward: a rank holds the exact values (and the exact full gradient) of its block; replicas
are identical. So the movement is exact: no arithmetic, no partial sums.

If A and B give every rank the same block (e.g. tp 2 and tp 4 with dp 1 and no SP), nothing moves.
At a pipeline-stage boundary the sender moves its output into the RECEIVING layer's layout inside its
own stage (both stages have n ranks and the same local coordinates) and sends it to the same local
rank of the next stage (pipeline.py).
"""
from __future__ import annotations

import torch

from .comm import Group
from .plan import Layout


def same_blocks(a: Layout, b: Layout, batch: int, seq: int) -> bool:
    return a.blocks(batch, seq) == b.blocks(batch, seq)


def _move(x: torch.Tensor, src: Layout, dst: Layout, group: Group, batch: int, seq: int) -> torch.Tensor:
    parts = group.all_gather(x)
    full = x.new_empty((batch, seq) + tuple(x.shape[2:]))
    for local, part in enumerate(parts):
        b0, b1, spans = src.block(local, batch, seq)
        offset = 0
        for a, b in spans:
            full[b0:b1, a:b] = part[:, offset : offset + b - a]
            offset += b - a
    b0, b1, spans = dst.block(group.rank, batch, seq)
    # A copy, not a view: the next layer keeps its input for backward, and a view would keep the whole
    # gathered micro-batch alive with it (torch.cat of the spans copies too).
    pieces = [full[b0:b1, a:b] for a, b in spans]
    if len(pieces) > 1:
        return torch.cat(pieces, dim=1)
    return pieces[0].clone(memory_format=torch.contiguous_format)


class _Redistribute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, src: Layout, dst: Layout, group: Group, batch: int, seq: int):
        ctx.args = (src, dst, group, batch, seq)
        return _move(x, src, dst, group, batch, seq)

    @staticmethod
    def backward(ctx, g):
        src, dst, group, batch, seq = ctx.args
        return _move(g, dst, src, group, batch, seq), None, None, None, None, None


def redistribute(x: torch.Tensor, src: Layout, dst: Layout, stage_group: Group, batch: int, seq: int) -> torch.Tensor:
    """x: this rank's block of a micro-batch in layout ``src``; returns its block in layout ``dst``."""
    if same_blocks(src, dst, batch, seq):
        return x
    return _Redistribute.apply(x, src, dst, stage_group, batch, seq)
