"""Vocab-parallel input embedding and cross-entropy over the embedding strategy's TP group (Megatron).

Each TP rank holds rows [t·V/tp, (t+1)·V/tp) of the word embedding (and of the output head, tied or not).
Lookup: tokens outside the rank's range read zeros, the partial embeddings are summed over TP (or
reduce-scattered along the sequence with SP). Cross-entropy: logits stay split on the vocab; the max, the
sum of exponentials and the target logit are reduced over TP, so no rank ever holds full logits.
With tp = 1 the same code is the plain embedding and cross-entropy of the reference run.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .comm import Group


def vocab_range(vocab: int, group: Group) -> tuple[int, int]:
    per = vocab // group.size
    return group.rank * per, (group.rank + 1) * per


def embedding_partial(tokens: torch.Tensor, weight: torch.Tensor, group: Group, vocab: int) -> torch.Tensor:
    """This rank's share of the embedding lookup (exact for tp = 1, partial otherwise)."""
    if group.size == 1:
        return F.embedding(tokens, weight)
    start, end = vocab_range(vocab, group)
    outside = (tokens < start) | (tokens >= end)
    local = (tokens - start).masked_fill(outside, 0)
    return F.embedding(local, weight).masked_fill(outside.unsqueeze(-1), 0.0)


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Works in place on ``logits`` (a fresh tensor that nothing else keeps: the output of the head's
    matmul or of its fp32 conversion), which becomes the softmax saved for backward; backward turns the
    softmax into the gradient in place too. So the loss keeps one logits-sized tensor, as Megatron's does."""

    @staticmethod
    def forward(ctx, logits, target, group: Group, start: int, end: int):
        logits_max = logits.max(dim=-1).values
        group.all_reduce_(logits_max, op=dist.ReduceOp.MAX)
        logits.sub_(logits_max.unsqueeze(-1))
        outside = (target < start) | (target >= end)
        local = (target - start).masked_fill(outside, 0)
        predicted = logits.gather(-1, local.unsqueeze(-1)).squeeze(-1).masked_fill(outside, 0.0)
        group.all_reduce_(predicted)
        exp = logits.exp_()
        sum_exp = exp.sum(dim=-1)
        group.all_reduce_(sum_exp)
        loss = sum_exp.log() - predicted
        softmax = exp.div_(sum_exp.unsqueeze(-1))
        ctx.save_for_backward(softmax, local, outside)
        return loss

    @staticmethod
    def backward(ctx, g):
        softmax, local, outside = ctx.saved_tensors
        grad = softmax  # used once: becomes the gradient in place
        hit = (~outside).to(grad.dtype)
        grad.scatter_add_(-1, local.unsqueeze(-1), -hit.unsqueeze(-1))
        grad.mul_(g.unsqueeze(-1))
        return grad, None, None, None, None


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, group: Group, vocab: int) -> torch.Tensor:
    """Per-token loss [batch, seq] from this rank's vocab shard of the logits."""
    start, end = vocab_range(vocab, group)
    return _VocabParallelCrossEntropy.apply(logits, target, group, start, end)
