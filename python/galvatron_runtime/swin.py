"""Swin's own pieces (Liu et al. 2021), as plain functions of parameters like model.py: (shifted) window
attention with its relative position bias, and the patch merging between stages.

The executor builds Swin from these, in the shapes the cost model prices (src/model/derived.ts
swinGroups, mirrored by plan.swin_layers: stage i has hidden·2^i channels, stageHeads[i] heads and
(side/2^i)² tokens; the first layer of stages after the first merges patches; every layer has a
(2w−1)²·heads relative position table). Activations change shape along the model, so the executor moves,
sends and splits each layer's activations at that layer's (tokens, hidden) (plan.layer_io). The pieces
are tested alone against direct computations (python/tests/test_swin.py) and the whole model against the
single process in the equivalence matrix (test/runtime/equivalence.test.ts).

Layers: pre-norm, LayerNorm, window attention, GeLU MLP, biases (model.py's blocks at the stage's width).
Ends: the patch embedding (a stride-p projection and a LayerNorm over the hidden size, no class token,
no positions; replicated over TP, SP-split after) and the head (final LayerNorm at the last stage's width,
the mean over tokens, a classifier split over TP by class with its bias; loss: mean over samples).

SP: a layer's tokens are split over TP (row-major over the grid). Window attention gathers them on
entering its column-parallel projections and reduce-scatters after the output projection, as ordinary
attention does; patch merging (replicated over TP) merges the rank's band of rows alone when TP divides
the merged grid's side, else gathers the grid, merges, and keeps the rank's part (either way its
parameters' gradients are partial per rank and summed over TP).

Window attention: the [H, W] token grid is cut into windows of w × w tokens and attention runs inside each
window. Every second layer of a stage first rolls the grid by w/2 (up and left) so that windows straddle
the previous layer's borders; the tokens a roll brought together from opposite edges are kept apart by
a mask, and the grid is rolled back after. A window no larger than the grid (Swin's last stage, 7 × 7
tokens with w = 7) is not shifted. Each head adds a learned bias for the relative offset of query and key
inside the window. TP splits the heads, as for ordinary attention (tp.py).
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from . import dropout
from .comm import Group
from .dropout import DropoutKey
from . import model as M
from . import vision
from .plan import ModelConfig, SwinLayer, swin_layers
from .vocab_parallel import cross_entropy
from .recompute import selective
from .sp import gather_seq, gather_seq_for_linear
from .tp import column_linear, copy_to_tp, enter_tp_region, exit_tp_region


def window_partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """[b, H, W, C] -> [b · (H/w) · (W/w), w·w, C], windows in row-major order, tokens row-major inside."""
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def window_reverse(windows: torch.Tensor, w: int, h: int, wd: int) -> torch.Tensor:
    """The inverse of window_partition: [b · nW, w·w, C] -> [b, H, W, C]."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // w) * (wd // w))
    x = windows.view(b, h // w, wd // w, w, w, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, wd, c)


def relative_position_index(w: int) -> torch.Tensor:
    """[w², w²] index into the (2w−1)² table of relative offsets (dy, dx) between tokens of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)  # [2, w²]
    rel = coords[:, :, None] - coords[:, None, :]  # [2, w², w²], each in [−(w−1), w−1]
    return (rel[0] + w - 1) * (2 * w - 1) + (rel[1] + w - 1)


def shift_size(grid: int, w: int, layer_in_stage: int) -> int:
    """w/2 on every second layer of a stage; 0 when one window covers the grid."""
    return w // 2 if layer_in_stage % 2 == 1 and grid > w else 0


def shifted_window_mask(h: int, wd: int, w: int, shift: int, dtype: torch.dtype) -> torch.Tensor | None:
    """Additive [nW, w², w²] mask (0 or −inf): after a roll by ``shift`` a window may hold tokens from up to
    four regions of the original grid, which must not see each other. None without a shift."""
    if shift == 0:
        return None
    region = torch.zeros(h, wd, dtype=torch.int64)
    label = 0
    for rows in (slice(0, h - w), slice(h - w, h - shift), slice(h - shift, h)):
        for cols in (slice(0, wd - w), slice(wd - w, wd - shift), slice(wd - shift, wd)):
            region[rows, cols] = label
            label += 1
    ids = window_partition(region.view(1, h, wd, 1), w).squeeze(-1)  # [nW, w²]
    apart = ids[:, :, None] != ids[:, None, :]
    return torch.zeros(apart.shape, dtype=dtype).masked_fill(apart, float("-inf"))


def _to_windows(t: torch.Tensor, b: int, grid: int, w: int, shift: int, heads: int) -> torch.Tensor:
    """[b, grid², heads·d] in grid order -> [b · nW, heads, w², d], rolled by -shift first."""
    g = t.reshape(b, grid, grid, -1)
    if shift:
        g = torch.roll(g, shifts=(-shift, -shift), dims=(1, 2))
    win = window_partition(g, w)
    return win.view(win.shape[0], w * w, heads, -1).transpose(1, 2)


def _from_windows(t: torch.Tensor, b: int, grid: int, w: int, shift: int) -> torch.Tensor:
    """The inverse of _to_windows: [b · nW, heads, w², d] -> [b, grid², heads·d] (contiguous)."""
    bw, heads, _, d = t.shape
    g = window_reverse(t.transpose(1, 2).reshape(bw, w * w, heads * d), w, grid, grid)
    if shift:
        g = torch.roll(g, shifts=(shift, shift), dims=(1, 2))
    return g.reshape(b, grid * grid, heads * d)


@dataclasses.dataclass(frozen=True)
class WindowGeometry:
    b: int  # samples
    grid: int
    w: int
    shift: int

    def bias(self, table: torch.Tensor, dtype) -> torch.Tensor:
        """Each head's relative position bias (+ the shifted windows' mask), shaped [1, 1 or nW, heads, w², w²]
        to add to scores viewed as [b, nW, heads, w², w²]."""
        w2 = self.w * self.w
        heads = table.shape[1]
        index = relative_position_index(self.w).to(table.device)
        bias = table[index.view(-1)].view(w2, w2, heads).permute(2, 0, 1).to(dtype).view(1, 1, heads, w2, w2)
        mask = shifted_window_mask(self.grid, self.grid, self.w, self.shift, dtype)
        if mask is not None:
            bias = bias + mask.to(table.device).view(1, -1, 1, w2, w2)
        return bias


def _window_bias(geo: "WindowGeometry", table: torch.Tensor, ct: torch.dtype, qshape):
    """Adds the relative-position bias (and the shift mask) to scores [b·windows, heads, w², w²]."""
    bw, heads, w2, _ = qshape
    bias = geo.bias(table, ct)
    return lambda s: (s.view(geo.b, -1, heads, w2, w2) + bias).view(bw, heads, w2, w2)


class _WindowCore(torch.autograd.Function):
    """softmax(QKᵀ/√d + relative bias (+ shift mask))V inside windows, returned in grid order [b, grid²,
    heads·d], keeping for backward what flash attention keeps (Q, K, V, the output, the per-row
    log-sum-exp; src/cost/layer-memory.ts prices the executor as flash) and recomputing the scores in
    backward, as t5.py's biased attention does: SDPA would differentiate its additive mask only on its
    unfused path, which keeps every probability. The output is kept in the grid order the output
    projection reads (one storage for both). The table's gradient is the scores' gradient summed over
    samples and windows, scattered to the relative offsets. Scores and softmax in at least fp32."""

    @staticmethod
    def forward(ctx, q, k, v, table, geo: WindowGeometry):
        ct = torch.promote_types(q.dtype, torch.float32)
        add_bias = _window_bias(geo, table, ct, q.shape)
        out, lse = M.biased_attention_forward(q.to(ct), k.to(ct), v.to(ct), add_bias, q.shape[-1] ** -0.5)
        out = _from_windows(out.to(q.dtype), geo.b, geo.grid, geo.w, geo.shift)
        ctx.save_for_backward(q, k, v, table, out, lse)
        ctx.geo = geo
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, table, out, lse = ctx.saved_tensors
        geo = ctx.geo
        ct = lse.dtype
        heads = q.shape[1]
        gc = _to_windows(g.to(ct), geo.b, geo.grid, geo.w, geo.shift, heads)
        oc = _to_windows(out.to(ct), geo.b, geo.grid, geo.w, geo.shift, heads)
        add_bias = _window_bias(geo, table, ct, q.shape)
        dq, dk, dv, ds = M.biased_attention_backward(
            q.to(ct), k.to(ct), v.to(ct), gc, oc, lse, add_bias, q.shape[-1] ** -0.5
        )
        dtable = M.bias_table_grad(ds, table, relative_position_index(geo.w).to(table.device).reshape(-1))
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), dtable.to(table.dtype), None


def window_attention(
    x: torch.Tensor,
    p: dict,
    grid: int,
    w: int,
    shift: int,
    group: Group,
    heads: int,
    sp: bool = False,
    recompute_core: bool = False,
) -> torch.Tensor:
    """Self-attention inside (shifted) windows. x: [b, grid², C] (or this TP rank's grid²/tp tokens with
    ``sp``; TP splits heads), p: this TP rank's attn.wq/bq, wk/bk, wv/bv (rows of its heads), attn.wo (its
    columns), attn.bo and its columns of attn.relative_bias [(2w−1)², heads]. ``heads``: this rank's heads.
    ``recompute_core``: the attention core is recomputed in backward (selective recompute). Returns x's shape.

    Q, K and V are projected in grid order (a per-token linear: the same values as after windowing) so that
    the projections keep their SP-gathered input as the shard (sp.gather_seq_for_linear), then cut into
    windows for the core (_WindowCore)."""
    y = enter_tp_region(x, group, sp)
    b = y.shape[0]
    q, k, v = (
        _to_windows(column_linear(y, p[f"attn.w{n}"], p.get(f"attn.b{n}")), b, grid, w, shift, heads) for n in "qkv"
    )
    geo = WindowGeometry(b, grid, w, shift)
    core = lambda q_, k_, v_, t_: _WindowCore.apply(q_, k_, v_, t_, geo)  # noqa: E731
    table = p["attn.relative_bias"]
    o = selective(core, q, k, v, table) if recompute_core else core(q, k, v, table)
    o = exit_tp_region(F.linear(o, p["attn.wo"]), group, sp)
    if "attn.bo" in p:
        o = o + p["attn.bo"]
    return o


def patch_merging(x: torch.Tensor, p: dict, grid: int, eps: float = 1e-5, rows: int | None = None) -> torch.Tensor:
    """[b, rows·grid, C] -> [b, (rows/2)·(grid/2), 2C]: each 2 × 2 block of tokens concatenated (order:
    (0,0), (1,0), (0,1), (1,1), as Swin's), LayerNorm over the 4C values, then a linear layer to 2C without
    bias. ``rows``: the rows of the grid x holds (default: all ``grid``; SP may hold a band of rows).
    Replicated over TP (src/model/derived.ts counts it so)."""
    b, _, c = x.shape
    rows = grid if rows is None else rows
    g = x.view(b, rows, grid, c)
    blocks = [g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]]
    merged = torch.cat(blocks, dim=-1).view(b, (rows // 2) * (grid // 2), 4 * c)
    merged = F.layer_norm(merged, (4 * c,), p["merge.norm.weight"], p["merge.norm.bias"], eps=eps)
    return F.linear(merged, p["merge.w"])


def merge_forward(x: torch.Tensor, p: dict, layer: SwinLayer, group: Group, sp: bool) -> torch.Tensor:
    """The layer's patch merging on this rank's tokens. Under SP a TP rank holds a band of rows of the
    input grid (row-major split); when TP divides the merged grid's side, the band is whole pairs of rows
    and merges alone into exactly the rank's merged tokens (no communication). Otherwise the grid is
    gathered, merged whole and the rank keeps its part."""
    side = 2 * layer.grid
    if not (sp and group.size > 1):
        return patch_merging(x, p, side, M.NORM_EPS)
    if layer.grid % group.size == 0:
        return patch_merging(x, p, side, M.NORM_EPS, rows=side // group.size)
    merged = patch_merging(gather_seq(x, group), p, side, M.NORM_EPS)
    return merged.chunk(group.size, dim=1)[group.rank]


# ---------------------------------------------------------------------------------------------------
# The model: parameter specs per layer and its ends, forward


def stage_config(cfg: ModelConfig, layer: SwinLayer) -> ModelConfig:
    """The ModelConfig of a layer's stage (its width, heads and MLP), so model.py's blocks build it."""
    return dataclasses.replace(
        cfg, hidden=layer.hidden, heads=layer.heads, kv_heads=layer.heads, ffn_hidden=layer.ffn_hidden
    )


def layer_specs(cfg: ModelConfig, layer: SwinLayer) -> list[M.ParamSpec]:
    """model.py's pre-norm layer at the stage's width, plus the relative position table (its columns, one
    per head, split over TP like the heads) and, in front, the patch merging (replicated over TP; under SP
    each rank merges all tokens but keeps its part, so the gradient is partial: sp_region)."""
    specs = []
    if layer.merge:
        c = layer.in_hidden
        specs += [
            M.ParamSpec("merge.norm.weight", (4 * c,), None, "ones", True),
            M.ParamSpec("merge.norm.bias", (4 * c,), None, "zeros", True),
            M.ParamSpec("merge.w", (2 * c, 4 * c), None, "normal", True),
        ]
    specs += M.layer_specs(stage_config(cfg, layer))
    specs.append(M.ParamSpec("attn.relative_bias", ((2 * layer.window - 1) ** 2, layer.heads), 1, "normal"))
    return specs


def layer_forward(x: torch.Tensor, p: dict, c: M.LayerContext, layer: SwinLayer, drop: DropoutKey | None = None):
    """[b, in_tokens (/tp with SP), in_hidden] -> [b, tokens (/tp), hidden]. ``c.cfg`` is the stage's
    config (stage_config). Dropout as model.layer_forward: after each block, at the layer's own tokens."""
    g = c.tp_group
    if layer.merge:
        x = merge_forward(x, p, layer, g, c.sp)
    shift = shift_size(layer.grid, layer.window, layer.in_stage)
    heads = layer.heads // g.size
    attn = window_attention(
        M.norm(x, p, "ln1", c.cfg), p, layer.grid, layer.window, shift, g, heads, c.sp, c.selective_recompute
    )
    h = x + dropout.apply(attn, drop, f"{c.name}.attn")
    return h + dropout.apply(M.mlp(M.norm(h, p, "ln2", c.cfg), p, c), drop, f"{c.name}.mlp")


def head_config(cfg: ModelConfig) -> ModelConfig:
    """The head's width: the last stage's."""
    return dataclasses.replace(cfg, hidden=cfg.hidden << (len(cfg.swin_depths) - 1))


def embed_specs(cfg: ModelConfig) -> list[M.ParamSpec]:
    """Patch projection and the patch LayerNorm (src/model/derived.ts embeddingShape: C·p²·h + h + 2h), all
    replicated over TP; under SP each rank uses its tokens only (sp_region)."""
    h, inner = cfg.hidden, cfg.channels * cfg.patch_size**2
    return [
        M.ParamSpec("patch.w", (h, inner), None, "normal", True),
        M.ParamSpec("patch.b", (h,), None, "normal", True),
        M.ParamSpec("patch_norm.weight", (h,), None, "ones", True),
        M.ParamSpec("patch_norm.bias", (h,), None, "zeros", True),
    ]


def embed_forward(images: torch.Tensor, p: dict, group: Group, sp: bool, cfg: ModelConfig, drop: DropoutKey | None = None):
    """images [b, C, H, W] -> [b, grid² (or this TP rank's grid²/tp with SP), hidden], after dropout."""
    x = F.linear(vision.patches(images.to(p["patch.w"].dtype), cfg.patch_size), p["patch.w"], p["patch.b"])
    x = M.norm(x, p, "patch_norm", cfg)
    if sp and group.size > 1:
        x = x.chunk(group.size, dim=1)[group.rank]
    return dropout.apply(x, drop, "embed")


def head_specs(cfg: ModelConfig) -> list[M.ParamSpec]:
    """Final norm at the last stage's width and the classifier split over TP by class, with its bias."""
    return vision.classifier_specs(head_config(cfg))


def head_forward(x: torch.Tensor, p: dict, labels: torch.Tensor, group: Group, sp: bool, cfg: ModelConfig, total_samples: int):
    """Final norm, mean over the tokens, class-parallel logits and cross-entropy; labels [b]. Returns
    sum(sample losses) / total_samples. With SP the normed tokens are gathered (as for a column-parallel
    linear: src/cost/embedding.ts headCost prices that gather)."""
    hc = head_config(cfg)
    h = M.norm(x, p, "norm", hc)
    h = gather_seq_for_linear(h, group) if sp else copy_to_tp(h, group)
    pooled = h.mean(dim=1, keepdim=True)  # [b, 1, width]
    logits = F.linear(pooled, p["classifier.w"], p["classifier.b"])
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return cross_entropy(logits, labels.view(-1, 1), group, cfg.vocab).sum() / total_samples


def parameter_count(cfg: ModelConfig) -> int:
    def total(specs) -> int:
        return sum(math.prod(s.shape) for s in specs)

    layers = sum(total(layer_specs(cfg, l)) for l in swin_layers(cfg))
    return layers + total(embed_specs(cfg)) + total(head_specs(cfg))
