"""Activation recomputation, per layer as the plan says (torch.utils.checkpoint, non-reentrant).

full: only the layer input is kept; the whole layer (its TP/SP collectives and, for ZeRO-3, its
parameter all-gather) runs again in backward. selective: only the attention core softmax(QKᵀ/√d)V is
recomputed (Korthikanti et al.), the rest of the layer keeps its activations.

Dropout replays exactly without any RNG state: its masks (dropout.py) are pure functions of (seed,
sample index, site), drawn from a generator seeded afresh for every mask, never from the global RNG.
The recomputed layer forward (full) is the same closure with the same immutable DropoutKey, so it
draws bit-identical masks; the selectively recomputed attention core has no dropout in it (model.py).
Hence preserve_rng_state=False: there is no RNG state the forward depends on.
"""
from __future__ import annotations

from torch.utils.checkpoint import checkpoint

from . import memory


def _checkpoint(fn, *args):
    # What checkpointing keeps for backward is its inputs (held by the checkpoint, not by saved-tensor
    # hooks): counted as the layer's activations.
    memory.record(*args)
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)


def full(fn, *args):
    return _checkpoint(fn, *args)


def selective(fn, *args):
    return _checkpoint(fn, *args)
