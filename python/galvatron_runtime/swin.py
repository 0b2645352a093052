"""Swin's own pieces (Liu et al. 2021), as plain functions of parameters like model.py: (shifted) window
attention with its relative position bias, and the patch merging between stages.

Not yet wired into the executor: a Swin model changes its hidden size and token count at every stage,
and the executor still moves one activation shape through a plan (issue 13). These functions are tested
alone against direct computations (python/tests/test_swin.py), in the shapes the cost model prices
(src/model/derived.ts swinGroups: stage i has hidden·2^i channels, stageHeads[i] heads and
(side/2^i)² tokens; the first layer of stages after the first merges patches; every layer has a
(2w−1)²·heads relative position table).

Window attention: the [H, W] token grid is cut into windows of w × w tokens and attention runs inside each
window. Every second layer of a stage first rolls the grid by w/2 (up and left) so that windows straddle
the previous layer's borders; the tokens a roll brought together from opposite edges are kept apart by
a mask, and the grid is rolled back after. A window no larger than the grid (Swin's last stage, 7 × 7
tokens with w = 7) is not shifted. Each head adds a learned bias for the relative offset of query and key
inside the window. TP splits the heads, as for ordinary attention (tp.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .comm import Group
from .tp import column_linear, enter_tp_region, exit_tp_region


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


def window_attention(
    x: torch.Tensor,
    p: dict,
    grid: int,
    w: int,
    shift: int,
    group: Group,
    heads: int,
) -> torch.Tensor:
    """Self-attention inside (shifted) windows. x: [b, grid², C] (full tokens; TP splits heads),
    p: this TP rank's attn.wq/bq, wk/bk, wv/bv (rows of its heads), attn.wo (its columns), attn.bo and
    its rows of attn.relative_bias [(2w−1)², heads]. ``heads``: this rank's heads. Returns [b, grid², C]."""
    y = enter_tp_region(x, group, False)
    b, n, c = y.shape
    grid_x = y.view(b, grid, grid, c)
    if shift:
        grid_x = torch.roll(grid_x, shifts=(-shift, -shift), dims=(1, 2))
    win = window_partition(grid_x, w)  # [b·nW, w², C]
    bw = win.shape[0]
    q = column_linear(win, p["attn.wq"], p.get("attn.bq")).view(bw, w * w, heads, -1).transpose(1, 2)
    k = column_linear(win, p["attn.wk"], p.get("attn.bk")).view(bw, w * w, heads, -1).transpose(1, 2)
    v = column_linear(win, p["attn.wv"], p.get("attn.bv")).view(bw, w * w, heads, -1).transpose(1, 2)
    index = relative_position_index(w).to(x.device)
    bias = p["attn.relative_bias"][index.view(-1)].view(w * w, w * w, heads).permute(2, 0, 1)  # [heads, w², w²]
    mask = bias.unsqueeze(0)  # [1, heads, w², w²]
    shifted = shifted_window_mask(grid, grid, w, shift, bias.dtype)
    if shifted is not None:
        windows = shifted.shape[0]
        mask = (mask.view(1, 1, heads, w * w, w * w) + shifted.to(x.device).view(1, windows, 1, w * w, w * w))
        mask = mask.expand(b, windows, heads, w * w, w * w).reshape(bw, heads, w * w, w * w)
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [b·nW, heads, w², d]
    o = o.transpose(1, 2).reshape(bw, w * w, -1)
    o = window_reverse(o, w, grid, grid)
    if shift:
        o = torch.roll(o, shifts=(shift, shift), dims=(1, 2))
    o = exit_tp_region(F.linear(o.reshape(b, n, -1), p["attn.wo"]), group, False)
    if "attn.bo" in p:
        o = o + p["attn.bo"]
    return o


def patch_merging(x: torch.Tensor, p: dict, grid: int, eps: float = 1e-5) -> torch.Tensor:
    """[b, grid², C] -> [b, (grid/2)², 2C]: each 2 × 2 block of tokens concatenated (order: (0,0), (1,0),
    (0,1), (1,1), as Swin's), LayerNorm over the 4C values, then a linear layer to 2C without bias.
    Replicated over TP (src/model/derived.ts counts it so)."""
    b, _, c = x.shape
    g = x.view(b, grid, grid, c)
    blocks = [g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]]
    merged = torch.cat(blocks, dim=-1).view(b, (grid // 2) ** 2, 4 * c)
    merged = F.layer_norm(merged, (4 * c,), p["merge.norm.weight"], p["merge.norm.bias"], eps=eps)
    return F.linear(merged, p["merge.w"])
