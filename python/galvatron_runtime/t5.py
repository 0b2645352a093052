"""T5 (Raffel et al. 2020): an encoder-decoder, built from the ModelSpec the search prices
(src/model/derived.ts): ``encoderLayers`` bidirectional encoder layers over the encoder's seqLen tokens,
then ``decoderLayers`` decoder layers (causal self-attention over decoderSeqLen tokens, then
cross-attention over the encoder's output, then the MLP). Pre-norm, RMSNorm (T5's scale-only norm), no
linear biases, and the MLP of ``ffnType`` (gelu: two matrices, as T5 v1.0's ReLU MLP is priced; swiglu:
three, as v1.1's gated-GeLU), the cost model's conventions (derived.ts familyNorm / familyBias).

Positions: T5's relative-position bias. The query-key offset j − i is cut into T5_RELATIVE_BUCKETS
buckets (HF's ``_relative_position_bucket``: half the buckets per direction in the bidirectional encoder,
all of them for past offsets in the causal decoder; exact up to buckets/2 (or /4), logarithmic up to
T5_MAX_DISTANCE), and a learned table [buckets, heads] per stack gives every head a bias per bucket, added
to the attention scores of every self-attention of that stack (one table per stack shared by its
layers; cross-attention has none). The cost model counts both tables as input parameters
(embeddingShape: 2·T5_RELATIVE_BUCKETS·heads).

The tables in a pipeline: every rank holds both (they are tiny) and the copies start identical (drawn
from the seed like every unit). A layer's TP rank uses the columns of its heads, for its samples; so the
gradient contributions of all layers, heads and samples are disjoint across ranks, and their sum over the
world is the gradient of one process. ``sync_gradients`` all-reduces the copies' gradients over the world
(like the tied word embedding's pair of copies), every copy then takes the same Adam step, and the
gradient norm counts the table once (on global rank 0). The first stage's copy is the input
parameter the cost model prices; the other stages' copies (2·32·heads values each) are not priced.

The pipeline carries two streams: through the encoder, the encoder's hidden stream and the decoder's
input embeddings (looked up on the first stage with the encoder's, from the shared word table); through
the decoder, the encoder's output (for every decoder layer's cross-attention; its gradient, summed over
the decoder layers, flows back into the encoder) and the decoder's hidden stream. Both are laid out by
the current layer's strategy (DP slice; replicated over TP, or split along their own sequence with SP),
re-distributed together between layers (redistribute.py), and sent between stages as one tensor, the
two concatenated along the sequence (src/cost/plan-cost.ts prices S_enc + S_dec tokens per boundary).

The encoder's final norm is held and applied by the last encoder layer (where T5 and Megatron apply it:
the decoder's cross-attention reads the normalised output). The cost model counts it with the decoder's
final norm in the head (embeddingShape.finalNormParameters): ``hidden`` parameters priced on the last
stage instead of the stage of the last encoder layer, which a layer type of its own for one layer would
fix at the price of a third type in the search; left as it is.

Scores are scaled by 1/√(head dim), as in the other families (T5 folds that factor into its query
initialisation instead). No dropout after the encoder's final norm (not priced); elsewhere dropout is
where the cost model prices it: the embedding outputs and before every residual add (self-attention,
cross-attention, MLP), with masks per (seed, sample, site) over each stream's own positions.

Data: a seq2seq task, sample g a pure function of (seed, g): the encoder reads a sample of the base data
(data.py's grammar or a text file) of seqLen tokens, the decoder reproduces its first decoderSeqLen
tokens with teacher forcing (input: the start token 0, then the targets shifted right). The loss is the
mean cross-entropy over every decoder token of the global batch.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import dropout
from .dropout import DropoutKey
from .model import (
    LayerContext,
    ParamSpec,
    _HeadsLinear,
    biased_attention_backward,
    biased_attention_forward,
    bias_table_grad,
    layer_specs,
    mlp,
    norm,
    norm_specs,
)
from .plan import ModelConfig
from .recompute import selective
from .tp import column_linear, enter_tp_region, exit_tp_region

# src/model/derived.ts T5_RELATIVE_BUCKETS; HF T5Config relative_attention_max_distance.
T5_RELATIVE_BUCKETS = 32
T5_MAX_DISTANCE = 128
# HF T5Config.decoder_start_token_id (the pad token).
DECODER_START = 0


# ---------------------------------------------------------------------------------------------------
# Parameters


def relpos_specs(cfg: ModelConfig) -> list[ParamSpec]:
    """The two relative-position tables [buckets, heads], replicated on every rank (module docstring)."""
    return [
        ParamSpec("rel_enc", (T5_RELATIVE_BUCKETS, cfg.heads), None, "normal"),
        ParamSpec("rel_dec", (T5_RELATIVE_BUCKETS, cfg.heads), None, "normal"),
    ]


def cross_specs(cfg: ModelConfig) -> list[ParamSpec]:
    """Cross-attention of a decoder layer: its norm, Q from the decoder stream, K/V from the encoder's
    output (kv heads as in self-attention), the output projection."""
    h, kvd = cfg.hidden, cfg.kv_heads * cfg.head_dim
    return norm_specs(cfg, "lnc") + [
        ParamSpec("cross.wq", (h, h), 0, "normal"),
        ParamSpec("cross.wk", (kvd, h), 0, "normal"),
        ParamSpec("cross.wv", (kvd, h), 0, "normal"),
        ParamSpec("cross.wo", (h, h), 1, "out"),
    ]


def is_decoder(cfg: ModelConfig, i: int) -> bool:
    return i >= cfg.encoder_layers


def t5_layer_specs(cfg: ModelConfig, i: int) -> list[ParamSpec]:
    """Layer i's parameters: the encoder layers are model.layer_specs (RMSNorm, no biases); the last one
    adds the encoder's final norm; decoder layers add cross-attention."""
    specs = layer_specs(cfg)
    if is_decoder(cfg, i):
        return specs + cross_specs(cfg)
    if i == cfg.encoder_layers - 1:
        specs = specs + norm_specs(cfg, "final")
    return specs


def parameter_count(cfg: ModelConfig) -> int:
    from .model import head_specs, wte_specs

    def total(specs) -> int:
        return sum(math.prod(s.shape) for s in specs)

    layers = sum(total(t5_layer_specs(cfg, i)) for i in range(cfg.layers))
    return layers + total(wte_specs(cfg)) + total(relpos_specs(cfg)) + total(head_specs(cfg))


# ---------------------------------------------------------------------------------------------------
# Relative positions


def relative_bucket(relative: torch.Tensor, bidirectional: bool, buckets: int = T5_RELATIVE_BUCKETS,
                    max_distance: int = T5_MAX_DISTANCE) -> torch.Tensor:
    """HF transformers' T5Attention._relative_position_bucket: ``relative`` = key position − query
    position (int64) -> bucket in [0, buckets)."""
    out = torch.zeros_like(relative)
    if bidirectional:
        buckets //= 2
        out += (relative > 0).to(torch.long) * buckets
        relative = relative.abs()
    else:
        relative = -torch.clamp(relative, max=0)
    exact = buckets // 2
    small = relative < exact
    large = exact + (
        torch.log(relative.float() / exact) / math.log(max_distance / exact) * (buckets - exact)
    ).to(torch.long)
    large = torch.clamp(large, max=buckets - 1)
    return out + torch.where(small, relative, large)


def bucket_table(seq: int, bidirectional: bool, device=None) -> torch.Tensor:
    """[seq, seq] bucket of every (query, key) pair (computed on the CPU: the same on every device)."""
    pos = torch.arange(seq, dtype=torch.long)
    return relative_bucket(pos.unsqueeze(0) - pos.unsqueeze(1), bidirectional).to(device)


def causal_additive(seq: int, dtype, device=None) -> torch.Tensor:
    """[seq, seq]: 0 where key ≤ query, −inf elsewhere."""
    visible = torch.ones(seq, seq, dtype=torch.bool).tril()
    return torch.zeros(seq, seq, dtype=dtype).masked_fill(~visible, float("-inf")).to(device)


class StackPositions:
    """One stack's constants: the bucket of every (query, key) pair, and the decoder's causal mask."""

    def __init__(self, seq: int, causal: bool, dtype, device):
        self.buckets = bucket_table(seq, not causal, device)
        self.causal = causal_additive(seq, dtype, device) if causal else None

    def tensors(self) -> list[torch.Tensor]:
        return [self.buckets] + ([self.causal] if self.causal is not None else [])


# ---------------------------------------------------------------------------------------------------
# Forward


def _bias(table: torch.Tensor, pos: StackPositions, dtype) -> torch.Tensor:
    """[heads here, s, s]: every head's bias of every (query, key) bucket, + the causal mask."""
    bias = table[pos.buckets].permute(2, 0, 1).to(dtype)
    return bias + pos.causal.to(dtype) if pos.causal is not None else bias


def _expand_kv(x: torch.Tensor, group: int) -> torch.Tensor:
    """GQA: kv head j serves query heads j·group … (j+1)·group − 1."""
    return x.repeat_interleave(group, dim=1) if group > 1 else x


def _fold_kv(g: torch.Tensor, group: int) -> torch.Tensor:
    """The gradient of _expand_kv: the query heads' shares summed per kv head."""
    if group == 1:
        return g
    b, h, s, d = g.shape
    return g.view(b, h // group, group, s, d).sum(2)


class _BiasedAttention(torch.autograd.Function):
    """softmax(QKᵀ/√d + table[buckets] (+ causal))V that keeps for backward what flash attention keeps
    (Q, K, V, the output and the per-row log-sum-exp: src/cost/layer-memory.ts prices the executor as
    flash) and recomputes the scores in backward. SDPA would differentiate its additive mask only on its
    unfused path, which keeps every attention probability. The table's gradient is the scores' gradient
    summed over the samples and scattered to the buckets; its small bias [heads, s, s] is rebuilt from
    the table, never kept. Scores and softmax in at least fp32."""

    @staticmethod
    def forward(ctx, q, k, v, table, pos: StackPositions):
        ct = torch.promote_types(q.dtype, torch.float32)
        group = q.shape[1] // k.shape[1]
        bias = _bias(table, pos, ct)
        out, lse = biased_attention_forward(
            q.to(ct), _expand_kv(k, group).to(ct), _expand_kv(v, group).to(ct), lambda s: s + bias, q.shape[-1] ** -0.5
        )
        out = out.to(q.dtype)
        ctx.save_for_backward(q, k, v, table, out, lse)
        ctx.pos = pos
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, table, out, lse = ctx.saved_tensors
        pos = ctx.pos
        ct = lse.dtype
        group = q.shape[1] // k.shape[1]
        qc, kc, vc, gc = q.to(ct), _expand_kv(k, group).to(ct), _expand_kv(v, group).to(ct), g.to(ct)
        bias = _bias(table, pos, ct)
        dq, dk, dv, ds = biased_attention_backward(
            qc, kc, vc, gc, out.to(ct), lse, lambda s: s + bias, q.shape[-1] ** -0.5
        )
        dtable = bias_table_grad(ds, table, pos.buckets.reshape(-1))
        return (
            dq.to(q.dtype),
            _fold_kv(dk, group).to(k.dtype),
            _fold_kv(dv, group).to(v.dtype),
            dtable.to(table.dtype),
            None,
        )


def _core(pos: StackPositions):
    def core(q, k, v, table):
        """softmax(QKᵀ/√d + bias)V; bias [heads here, s, s] from this rank's columns of the table."""
        return _BiasedAttention.apply(q, k, v, table, pos)

    return core


def _heads(y: torch.Tensor, w: torch.Tensor, hd: int) -> torch.Tensor:
    b, s, _ = y.shape
    return column_linear(y, w, None).view(b, s, -1, hd).transpose(1, 2)


def self_attention(y: torch.Tensor, p: dict, c: LayerContext, table: torch.Tensor, pos: StackPositions) -> torch.Tensor:
    """Self-attention with the stack's relative-position bias; ``table`` is the stack's full table, of
    which this TP rank uses the columns of its heads."""
    g = c.tp_group
    y = enter_tp_region(y, g, c.sp)
    hd = c.cfg.head_dim
    q, k, v = (_heads(y, p[f"attn.w{n}"], hd) for n in "qkv")
    local = q.shape[1]
    table = table[:, g.rank * local : (g.rank + 1) * local] if g.size > 1 else table
    core = _core(pos)
    o = selective(core, q, k, v, table) if c.selective_recompute else core(q, k, v, table)
    return exit_tp_region(_HeadsLinear.apply(o, p["attn.wo"]), g, c.sp)


def _cross_core(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, enable_gqa=k.shape[1] != q.shape[1])


def cross_attention(y: torch.Tensor, enc: torch.Tensor, p: dict, c: LayerContext) -> torch.Tensor:
    """Queries from the decoder stream, keys and values from the encoder's output (both entering the TP
    region: gathered along their own sequence with SP), no mask, no position bias."""
    g = c.tp_group
    y = enter_tp_region(y, g, c.sp)
    enc = enter_tp_region(enc, g, c.sp)
    hd = c.cfg.head_dim
    q = _heads(y, p["cross.wq"], hd)
    k, v = _heads(enc, p["cross.wk"], hd), _heads(enc, p["cross.wv"], hd)
    o = selective(_cross_core, q, k, v) if c.selective_recompute else _cross_core(q, k, v)
    return exit_tp_region(_HeadsLinear.apply(o, p["cross.wo"]), g, c.sp)


def encoder_layer(x: torch.Tensor, p: dict, c: LayerContext, table: torch.Tensor, pos: StackPositions,
                  drop: DropoutKey | None, final: bool) -> torch.Tensor:
    """x + dropout(self-attn(norm(x))), + dropout(mlp(norm(·))); the last encoder layer then applies the
    encoder's final norm (``final``)."""
    h = x + dropout.apply(self_attention(norm(x, p, "ln1", c.cfg), p, c, table, pos), drop, f"{c.name}.attn")
    h = h + dropout.apply(mlp(norm(h, p, "ln2", c.cfg), p, c), drop, f"{c.name}.mlp")
    return norm(h, p, "final", c.cfg) if final else h


def decoder_layer(x: torch.Tensor, enc: torch.Tensor, p: dict, c: LayerContext, table: torch.Tensor,
                  pos: StackPositions, drop: DropoutKey | None) -> torch.Tensor:
    """Causal self-attention, cross-attention over the encoder's output, MLP; each pre-norm, each output
    through dropout into the residual stream."""
    h = x + dropout.apply(self_attention(norm(x, p, "ln1", c.cfg), p, c, table, pos), drop, f"{c.name}.attn")
    h = h + dropout.apply(cross_attention(norm(h, p, "lnc", c.cfg), enc, p, c), drop, f"{c.name}.cross")
    return h + dropout.apply(mlp(norm(h, p, "ln2", c.cfg), p, c), drop, f"{c.name}.mlp")


# ---------------------------------------------------------------------------------------------------
# Data


class Seq2SeqData:
    """Sample g: (encoder tokens [seq], decoder inputs [decoder seq], labels [decoder seq]) from sample g
    of ``base`` (data.py, made for the encoder's seqLen): the labels are its first decoder-seq tokens, the
    decoder's inputs the start token and the labels shifted right (teacher forcing)."""

    def __init__(self, base, decoder_seq: int):
        self.base, self.decoder_seq = base, decoder_seq

    def sample(self, g: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tokens = self.base.sample(g)[: self.base.seq]
        labels = tokens[: self.decoder_seq]
        inputs = torch.cat([torch.tensor([DECODER_START], dtype=tokens.dtype), labels[:-1]])
        return tokens, inputs, labels


def seq2seq_batch(data: Seq2SeqData, step: int, global_batch: int, first: int, count: int):
    """Samples [first, first+count) of the step's global batch -> (encoder tokens, decoder inputs,
    labels), [count, seq], [count, decoder seq], [count, decoder seq]."""
    base = step * global_batch + first
    rows = [data.sample(base + i) for i in range(count)]
    return tuple(torch.stack([r[j] for r in rows]) for j in range(3))
