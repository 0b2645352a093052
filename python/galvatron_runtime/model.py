"""The model: a pre-norm Transformer (GPT, LLaMA, BERT-style encoder, ViT, whose ends are in vision.py,
and T5, whose layers t5.py builds from the blocks here) as plain functions of parameters.

Reading order is execution order (nanoGPT style): embedding -> layers -> final norm -> head -> loss.
Every function takes the parameters it uses as tensors (this rank's TP shards) and a TP group; with a
group of one member they are the plain unsharded model, which is how the single-process reference runs.

Parameters are described by ``ParamSpec`` (full shape, the dim TP splits, how to initialise) and are
initialised in FULL size from a generator seeded by (seed, unit name), identically on every rank, then
sliced to the rank's shard: every plan starts from exactly the reference's parameters.

Linear biases are drawn N(0, 0.02) like the weights (not zeros): the key bias has an exactly-zero gradient
(softmax is invariant to it), so from zero it would hold only rounding noise and a relative comparison with
the reference would be meaningless; from a random start its noise is ~1e-13 of its value.

Family conventions: gpt, bert and vit use LayerNorm and biases and a GeLU (tanh) MLP; llama uses RMSNorm,
no biases and SwiGLU (gate w1, up w3, down w2); gpt/llama attention is causal, bert/vit bidirectional. GQA: kv
heads are split over TP like the query heads (kvHeads % tp == 0), query head j reads kv head
j // (heads/kvHeads).

Dropout (plan.training.dropout; dropout.py draws the masks from (seed, sample, site), p = 0.1) sits
exactly where the cost model prices it: on the hidden stream before each residual add — after the
attention output projection (+ its bias) and after the MLP output (+ its bias), the fused
bias-dropout-add of src/cost/layer-time.ts and its per-norm byte mask in layer-memory.ts — and on the
embedding output (word + position embeddings), whose byte mask src/cost/embedding.ts counts. These
sites are replicated over TP (or sequence-sharded with SP), never split along the hidden dimension. No
dropout on the attention probabilities: the cost model prices it only for unfused attention, and the
executor runs SDPA and is priced as flash (src/plan/to-cost.ts executorPlanInput), where no attention
dropout is priced (a fused kernel's internal dropout could not be drawn per sample either).

Memory: the layer keeps for backward exactly what src/cost/layer-memory.ts counts (memory.py measures
it): the block and norm inputs, q, k, v, the attention output, the FFN's inner activations and the
norms' per-token statistics. Three small autograd functions below drop what plain autograd would keep
twice (RMSNorm's fp32 copies, SwiGLU's silu output, the merged-heads copy of the attention output).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import dropout, kernels, memory
from .comm import Group
from .cp import CpAttention, gather_kv
from .dropout import DropoutKey
from .plan import ModelConfig
from .recompute import selective
from .sp import gather_seq_for_linear, reduce_scatter_seq
from .tp import column_linear, copy_to_tp, enter_tp_region, exit_tp_region, reduce_from_tp, row_linear
from .vocab_parallel import cross_entropy, embedding_partial

NORM_EPS = 1e-5
INIT_STD = 0.02
ROPE_BASE = 10000.0


@dataclass(frozen=True)
class ParamSpec:
    name: str
    shape: tuple[int, ...]  # full (unsharded) shape
    tp_dim: int | None  # dim split over TP; None = replicated on every TP rank
    init: str  # normal | out (normal scaled by 1/sqrt(2·layers)) | zeros | ones
    sp_region: bool = False  # used inside the sequence-parallel region (gradient partial under SP)

    def local_shape(self, tp: int) -> tuple[int, ...]:
        if self.tp_dim is None:
            return self.shape
        s = list(self.shape)
        s[self.tp_dim] //= tp
        return tuple(s)


# ---------------------------------------------------------------------------------------------------
# Parameter specs


def norm_specs(cfg: ModelConfig, prefix: str) -> list[ParamSpec]:
    specs = [ParamSpec(f"{prefix}.weight", (cfg.hidden,), None, "ones", True)]
    if cfg.norm == "layernorm":
        specs.append(ParamSpec(f"{prefix}.bias", (cfg.hidden,), None, "zeros", True))
    return specs


def layer_specs(cfg: ModelConfig) -> list[ParamSpec]:
    h, kvd, f = cfg.hidden, cfg.kv_heads * cfg.head_dim, cfg.ffn_hidden
    specs = norm_specs(cfg, "ln1")
    for name, rows in (("q", h), ("k", kvd), ("v", kvd)):
        specs.append(ParamSpec(f"attn.w{name}", (rows, h), 0, "normal"))
        if cfg.bias:
            specs.append(ParamSpec(f"attn.b{name}", (rows,), 0, "normal"))
    specs.append(ParamSpec("attn.wo", (h, h), 1, "out"))
    if cfg.bias:
        specs.append(ParamSpec("attn.bo", (h,), None, "normal", True))
    specs += norm_specs(cfg, "ln2")
    specs.append(ParamSpec("mlp.w1", (f, h), 0, "normal"))
    if cfg.bias:
        specs.append(ParamSpec("mlp.b1", (f,), 0, "normal"))
    if cfg.ffn_type == "swiglu":
        specs.append(ParamSpec("mlp.w3", (f, h), 0, "normal"))
    specs.append(ParamSpec("mlp.w2", (h, f), 1, "out"))
    if cfg.bias:
        specs.append(ParamSpec("mlp.b2", (h,), None, "normal", True))
    return specs


def wte_specs(cfg: ModelConfig) -> list[ParamSpec]:
    return [ParamSpec("wte", (cfg.vocab, cfg.hidden), 0, "normal")]


def wpe_specs(cfg: ModelConfig) -> list[ParamSpec]:
    if cfg.positional != "learned":
        return []
    return [ParamSpec("wpe", (cfg.max_seq, cfg.hidden), None, "normal", True)]


def head_specs(cfg: ModelConfig) -> list[ParamSpec]:
    specs = norm_specs(cfg, "norm")
    if not cfg.tied:
        specs.append(ParamSpec("out", (cfg.vocab, cfg.hidden), 0, "normal"))
    return specs


# ---------------------------------------------------------------------------------------------------
# Initialisation: full size, seeded per unit, identical everywhere, then sliced


def _unit_seed(seed: int, unit: str) -> int:
    digest = hashlib.sha256(f"galvatron/{seed}/{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def init_full(specs: list[ParamSpec], cfg: ModelConfig, seed: int, unit: str) -> dict[str, torch.Tensor]:
    """Full-size float64 CPU tensors, drawn in spec order from a generator seeded by (seed, unit)."""
    gen = torch.Generator().manual_seed(_unit_seed(seed, unit))
    out = {}
    for s in specs:
        if s.init == "ones":
            t = torch.ones(s.shape, dtype=torch.float64)
        elif s.init == "zeros":
            t = torch.zeros(s.shape, dtype=torch.float64)
        else:
            std = INIT_STD if s.init == "normal" else INIT_STD / math.sqrt(2 * cfg.layers)
            t = torch.randn(s.shape, generator=gen, dtype=torch.float64) * std
        out[s.name] = t
    return out


def shard(full: torch.Tensor, spec: ParamSpec, tp: int, tp_rank: int) -> torch.Tensor:
    if spec.tp_dim is None or tp == 1:
        return full
    return full.chunk(tp, dim=spec.tp_dim)[tp_rank]


# ---------------------------------------------------------------------------------------------------
# Forward


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Norms and the loss accumulate in at least fp32 (bf16 inputs), float64 stays float64."""
    return torch.promote_types(dtype, torch.float32)


class _RMSNorm(torch.autograd.Function):
    """x·rsqrt(mean(x²) + eps)·w, keeping only x and the per-token rstd for backward (PyTorch's composite
    rms_norm keeps fp32 copies of x and of the normalised x as well)."""

    @staticmethod
    def forward(ctx, x, weight, eps: float):
        xc = x.to(_compute_dtype(x.dtype))
        rstd = torch.rsqrt(xc.pow(2).mean(-1, keepdim=True) + eps)
        y = (xc * rstd).to(x.dtype) * weight
        ctx.save_for_backward(x, weight, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, rstd = ctx.saved_tensors
        n = x.to(rstd.dtype) * rstd
        gc = g.to(rstd.dtype)
        gw = (gc * n).reshape(-1, n.shape[-1]).sum(0).to(weight.dtype)
        dn = gc * weight.to(rstd.dtype)
        dx = rstd * (dn - n * (dn * n).mean(-1, keepdim=True))
        return dx.to(x.dtype), gw, None


def norm(x: torch.Tensor, p: dict, prefix: str, cfg: ModelConfig) -> torch.Tensor:
    if cfg.norm == "rmsnorm":
        if kernels.compiled():
            return kernels.compiled_rms_norm(x, p[f"{prefix}.weight"], NORM_EPS)
        if kernels.fused():
            return F.rms_norm(x, (x.shape[-1],), p[f"{prefix}.weight"], NORM_EPS)
        return _RMSNorm.apply(x, p[f"{prefix}.weight"], NORM_EPS)
    return F.layer_norm(x, (cfg.hidden,), p[f"{prefix}.weight"], p[f"{prefix}.bias"], eps=NORM_EPS)


def rope_tables(seq: int, head_dim: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (ROPE_BASE ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = torch.outer(torch.arange(seq, dtype=torch.float64), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(device=device, dtype=dtype), ang.sin().to(device=device, dtype=dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [batch, heads, seq, head_dim]; cos, sin: [seq, head_dim] at the real positions of x's tokens."""
    return x * cos.to(x.dtype) + _rotate_half(x) * sin.to(x.dtype)


def biased_attention_forward(qc, kc, vc, add_bias, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(QKᵀ·scale + bias)V in the compute dtype of qc/kc/vc; returns the output and the per-row
    log-sum-exp, which is all that biased_attention_backward needs besides Q, K, V and the output (what a
    flash kernel keeps). ``add_bias(scores)`` adds the bias (t5.py: bucketed relative positions; swin.py:
    relative offsets and the shift mask per window). SDPA would differentiate an additive mask only on its
    unfused path, which keeps every probability: hence these two functions."""
    scores = add_bias(torch.matmul(qc, kc.transpose(-1, -2)) * scale)
    lse = torch.logsumexp(scores, dim=-1, keepdim=True)
    return torch.matmul(torch.exp(scores - lse), vc), lse


def biased_attention_backward(qc, kc, vc, gc, oc, lse, add_bias, scale: float):
    """Gradients of biased_attention_forward from the recomputed scores: (dq, dk, dv, ds), where ds is the
    gradient of the biased scores (the bias's own gradient, before it is scattered to its table)."""
    p = torch.exp(add_bias(torch.matmul(qc, kc.transpose(-1, -2)) * scale) - lse)
    dv = torch.matmul(p.transpose(-1, -2), gc)
    ds = p * (torch.matmul(gc, vc.transpose(-1, -2)) - (gc * oc).sum(-1, keepdim=True))
    del p
    return torch.matmul(ds, kc) * scale, torch.matmul(ds.transpose(-1, -2), qc) * scale, dv, ds


def bias_table_grad(ds: torch.Tensor, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The gradient of a bias table [entries, heads] read at ``index`` (flat, one entry per (query, key)):
    the scores' gradient ds [..., heads, queries, keys] summed over its leading dimensions, scattered to
    the entries, in ds's dtype."""
    heads, n = ds.shape[-3], ds.shape[-2] * ds.shape[-1]
    dbias = ds.reshape(-1, heads, n).sum(0).t()  # [(query, key), head]
    return torch.zeros(table.shape, dtype=ds.dtype, device=table.device).index_add_(0, index, dbias)


def core_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(QKᵀ/√d + mask)V per head; k/v carry kv heads, read by groups of query heads (GQA) without
    copies. ``mask`` (additive, context parallelism) replaces ``causal``'s square one when q and k hold
    different positions."""
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal and mask is None, enable_gqa=k.shape[1] != q.shape[1]
    )


class _HeadsLinear(torch.autograd.Function):
    """Output projection of attention straight from the kernel's [b, heads, s, d] output: saves that
    output (which the attention kernel keeps anyway) instead of a second, merged-heads copy."""

    @staticmethod
    def forward(ctx, o, weight):
        b, _, s, _ = o.shape
        ctx.save_for_backward(o, weight)
        return F.linear(o.transpose(1, 2).reshape(b, s, -1), weight)

    @staticmethod
    def backward(ctx, g):
        o, weight = ctx.saved_tensors
        b, heads, s, d = o.shape
        x = o.transpose(1, 2).reshape(b * s, heads * d)
        g2 = g.reshape(b * s, -1)
        gw = g2.t() @ x
        go = (g2 @ weight).view(b, s, heads, d).transpose(1, 2)
        return go, gw


class _SwiGLU(torch.autograd.Function):
    """silu(a)·b keeping only a and b (autograd would keep silu(a) as well)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return F.silu(a) * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sig = torch.sigmoid(a)
        silu = a * sig
        return g * b * sig * (1 + a * (1 - sig)), g * silu


@dataclass
class LayerContext:
    cfg: ModelConfig
    tp_group: Group
    sp: bool  # sequence parallel (only meaningful with tp > 1)
    selective_recompute: bool
    rope: tuple[torch.Tensor, torch.Tensor] | None  # cos, sin at the positions of the rank's CP part
    name: str = "layer"  # dropout sites are "<name>.attn" and "<name>.mlp" (executor: "layers.<i>")
    cp: CpAttention | None = None  # context parallelism (cp > 1): the CP group and causal mask


def attention_core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, c: LayerContext, regather: bool = True):
    """The rank's queries over every key of its CP group (cp.py); with cp = 1, plain (causal) attention.
    ``regather``: the gathered K/V are gathered again in backward instead of kept (off when recomputed)."""
    if c.cp is None:
        return core_attention(q, k, v, c.cfg.causal)
    k, v = gather_kv(k, c.cp.group, regather), gather_kv(v, c.cp.group, regather)
    return core_attention(q, k, v, False, c.cp.mask)


def _selective_core(c: LayerContext):
    return lambda q, k, v: attention_core(q, k, v, c, regather=False)


def attention(y: torch.Tensor, p: dict, c: LayerContext, add_bias: bool = True) -> torch.Tensor:
    """``add_bias`` False: the output bias is left to the caller (layer_forward's compiled bias + residual)."""
    cfg, g = c.cfg, c.tp_group
    y = enter_tp_region(y, g, c.sp)
    b, s, _ = y.shape
    hd = cfg.head_dim
    q = column_linear(y, p["attn.wq"], p.get("attn.bq")).view(b, s, -1, hd).transpose(1, 2)
    k = column_linear(y, p["attn.wk"], p.get("attn.bk")).view(b, s, -1, hd).transpose(1, 2)
    v = column_linear(y, p["attn.wv"], p.get("attn.bv")).view(b, s, -1, hd).transpose(1, 2)
    if c.rope is not None:
        if kernels.compiled():
            q, k = kernels.compiled_rope_qk(q, k, *c.rope)
        else:
            q, k = apply_rope(q, *c.rope), apply_rope(k, *c.rope)
    if c.selective_recompute:
        o = selective(_selective_core(c), q, k, v)
    else:
        o = attention_core(q, k, v, c)
    o = exit_tp_region(_HeadsLinear.apply(o, p["attn.wo"]), g, c.sp)
    if cfg.bias and add_bias:
        o = o + p["attn.bo"]
    return o


def mlp(y: torch.Tensor, p: dict, c: LayerContext, add_bias: bool = True) -> torch.Tensor:
    cfg, g = c.cfg, c.tp_group
    y = enter_tp_region(y, g, c.sp)
    if cfg.ffn_type == "swiglu":
        swiglu = kernels.compiled_swiglu if kernels.compiled() else _SwiGLU.apply
        a = swiglu(column_linear(y, p["mlp.w1"], None), column_linear(y, p["mlp.w3"], None))
    else:
        a = F.gelu(column_linear(y, p["mlp.w1"], p.get("mlp.b1")), approximate="tanh")
    o = exit_tp_region(row_linear(a, p["mlp.w2"]), g, c.sp)
    if cfg.bias and add_bias:
        o = o + p["mlp.b2"]
    return o


def layer_forward(x: torch.Tensor, p: dict, c: LayerContext, drop: DropoutKey | None = None) -> torch.Tensor:
    """Pre-norm block: x + dropout(attn(norm(x))), then + dropout(mlp(norm(·))). x is [b, s or s/tp (SP),
    hidden]; ``drop`` names the samples and sequence part x holds (None: no dropout)."""
    if kernels.compiled() and c.cfg.bias and drop is None:
        # One kernel for "x + (o + bias)" (forward and backward) instead of two; with dropout the mask sits
        # between the two adds and the eager path below runs.
        add = kernels.compiled_bias_residual
        h = add(x, attention(norm(x, p, "ln1", c.cfg), p, c, add_bias=False), p["attn.bo"])
        return add(h, mlp(norm(h, p, "ln2", c.cfg), p, c, add_bias=False), p["mlp.b2"])
    h = x + dropout.apply(attention(norm(x, p, "ln1", c.cfg), p, c), drop, f"{c.name}.attn")
    return h + dropout.apply(mlp(norm(h, p, "ln2", c.cfg), p, c), drop, f"{c.name}.mlp")


def embed_forward(
    tokens: torch.Tensor,
    wte: torch.Tensor,
    wpe: torch.Tensor | None,
    group: Group,
    sp: bool,
    cfg: ModelConfig,
    drop: DropoutKey | None = None,
    positions: torch.Tensor | None = None,
    site: str = "embed",
) -> torch.Tensor:
    """tokens [b, s] -> activations [b, s (or s/tp with SP), hidden] in the embedding layout, after
    embedding dropout when ``drop`` is given (at ``site``: a T5's decoder inputs have their own).
    ``positions``: the real positions of the s tokens (context parallelism); None: 0 … s − 1."""
    x = embedding_partial(tokens, wte, group, cfg.vocab)
    x = reduce_scatter_seq(x, group) if sp else reduce_from_tp(x, group)
    if wpe is not None:
        pos = (wpe[: tokens.shape[1]] if positions is None else wpe[positions]).unsqueeze(0)
        if sp:
            pos = pos.chunk(group.size, dim=1)[group.rank]
        x = x + pos
    return dropout.apply(x, drop, site)


def head_forward(
    x: torch.Tensor,
    p: dict,
    out_weight: torch.Tensor,
    labels: torch.Tensor,
    group: Group,
    sp: bool,
    cfg: ModelConfig,
    total_tokens: int,
) -> torch.Tensor:
    """Final norm, vocab-parallel logits and cross-entropy. Returns sum(token losses) / total_tokens."""
    h = norm(x, p, "norm", cfg)
    h = gather_seq_for_linear(h, group) if sp else copy_to_tp(h, group)
    logits = F.linear(h, out_weight)
    if logits.dtype != _compute_dtype(logits.dtype):
        # The loss works on fp32 logits in place; the 16-bit logits exist only while they are converted
        # (and their gradient while it is converted back).
        memory.transient("logits", logits.numel() * logits.element_size())
        logits = logits.to(_compute_dtype(logits.dtype))
    return cross_entropy(logits, labels, group, cfg.vocab).sum() / total_tokens
