"""Dropout with masks that are functions of ids, not of RNG state: the same under every plan.

The mask of dropout site ``site`` (``embed``, ``layers.<i>.attn``, ``layers.<i>.mlp``: the layer and the
position of the site within it) for sample g of the run (g = step·globalBatch + index in the global
batch, data.py's numbering) is drawn in FULL size, [seqLen, hidden], from a torch.Generator seeded by a
hash of (seed, g, site) — data.py's ``_sample_seed`` convention — and then sliced to the part a rank
holds: its tokens under context and sequence parallelism, by their real positions (the hidden dimension
is never sharded at a dropout site, see model.py). Whatever the TP/SP/DP/PP/ZeRO layout, micro-batch count or schedule,
sample g gets the same mask at the same site, so a distributed run with dropout matches the
single-process reference, and recomputation (full or selective, recompute.py) replays the same masks
without saving or restoring any RNG state. The micro-batch index itself is not part of the key: it only
says which samples a call holds (g = step·globalBatch + k·microBatchSize + row), and keying on it would
give a sample different masks under different micro-batch counts.

Cost: every rank draws the full [seqLen, hidden] uniform tensor of each of its samples at each site,
then keeps its shard — with SP a rank draws tp times what it keeps, and each sample costs one generator
seeding and one kernel per site. That is the price of plan-independent masks (correctness first); a
counter-based generator indexed by (sample, token, channel) would draw only the shard.

The draw happens on the activation's device (a CPU generator on CPU, a CUDA Philox generator on CUDA):
masks are identical across plans and ranks of one device type (all ranks of a run share it, and the
reference runs on the run's device), but a CUDA run's masks differ from a CPU run's.

Kept elements: uniform >= p, so P(keep) = 1 − p; kept values are scaled by 1/(1 − p) (inverted dropout,
as torch.nn.functional.dropout), so the expectation is unchanged. Backward keeps the boolean mask only
(1 byte per element, what src/cost/layer-memory.ts and embedding.ts count for a dropout mask).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

# Hidden dropout probability. The plan has no field for it (plan.training.dropout is a boolean), so the
# executor uses GPT-2's resid_pdrop/embd_pdrop = 0.1 (HF GPT2Config defaults) and Megatron-LM's
# --hidden-dropout default 0.1 (also BERT's hidden_dropout_prob).
DROPOUT_P = 0.1


def mask_seed(seed: int, g: int, site: str) -> int:
    """Generator seed of sample g's mask at ``site`` (same convention as data._sample_seed)."""
    digest = hashlib.sha256(f"galvatron-dropout/{seed}/{g}/{site}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@dataclass(frozen=True)
class DropoutKey:
    """Which samples and which part of the sequence a call holds, everything a mask depends on but the site.

    Rows of the local activation are samples first, first+1, ..., first+count-1 of the run; its sequence
    dimension holds the token positions of ``spans`` ([start, end) ranges of seq, in the order held: one
    range, or under context parallelism two chunks far apart, plan.Layout.block).
    """

    seed: int
    first: int
    count: int
    seq: int
    spans: tuple[tuple[int, int], ...]
    p: float = DROPOUT_P


def keep_mask(key: DropoutKey, site: str, hidden: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Boolean [count, tokens of key.spans, hidden] mask (True = kept) of the samples ``key`` holds at ``site``."""
    device = torch.device(device)
    rows = []
    for i in range(key.count):
        gen = torch.Generator(device=device).manual_seed(mask_seed(key.seed, key.first + i, site))
        # Full size, whatever this rank keeps of it: the draw must not depend on the layout.
        u = torch.rand((key.seq, hidden), generator=gen, dtype=torch.float32, device=device)
        rows.append(torch.cat([u[a:b] for a, b in key.spans]) >= key.p)
        del u
    return torch.stack(rows)


class _Dropout(torch.autograd.Function):
    """y = x·mask/(1 − p), saving only the boolean mask for backward."""

    @staticmethod
    def forward(ctx, x, keep, scale: float):
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x * keep.to(x.dtype) * scale

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        return g * keep.to(g.dtype) * ctx.scale, None, None


def apply(x: torch.Tensor, key: DropoutKey | None, site: str) -> torch.Tensor:
    """Dropout of x [count, tokens of key.spans, hidden] at ``site``; identity when ``key`` is None (no dropout)."""
    if key is None or key.p == 0.0:
        return x
    keep = keep_mask(key, site, x.shape[-1], x.device)
    if keep.shape != x.shape:
        raise ValueError(f"dropout at {site}: activation {tuple(x.shape)} but key holds {tuple(keep.shape)}")
    return _Dropout.apply(x, keep, 1.0 / (1.0 - key.p))
