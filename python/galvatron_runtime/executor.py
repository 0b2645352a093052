"""Build this rank's part of a plan and run training steps (torchtitan-style: each parallelism is applied
by its own module, from the plan, over an unchanged model).

For rank r: stage s = r // n, local rank l = r % n. The stage runs the plan's chunks j ≡ s (mod P); each
chunk is [embedding] + its layers + [final norm, head, loss]. Every layer gets:
  - its TP group and SP flag (tp.py, sp.py) from plan.layers[i] and the rank layout (plan.Layout),
  - its CP group, the real positions of its tokens and their causal mask and RoPE tables (cp.py),
  - its recompute mode (recompute.py),
  - its flat parameter bucket with its gradient-sync group (DP × CP) and type (data_parallel.py, zero.py);
activations are moved between layers of different layouts (redistribute.py) and between stages
(pipeline.py). One step: the schedule runs every micro-batch forward and backward, then the gradients
are synchronised per layer (SP, tied copies, DP), the global gradient norm is computed, clipped, and
every rank updates what it owns with Adam (optim.py). With loss scaling (loss_scale.py) backward starts
from loss · S, a found-inf flag joins the norm's all-reduce over the world, and on an overflow every rank
skips the update.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

import torch

from . import model as M
from . import swin as SW
from . import t5 as T5
from . import vision
from . import comm, cp, kernels, memory, recompute
from .comm import Group, GroupCache
from .data import batch
from .data_parallel import Unit, optimizer_step, sync_gradients
from .device import Precision
from .loss_scale import DynamicLossScaler, LossScaleConfig
from .dropout import DropoutKey
from .optim import AdamConfig, clip_coefficient
from .pipeline import PipelineRunner, p2p_rank_sets
from .plan import Layout, LayerPlan, Plan, cp_spans, layer_io, span_length, swin_layers
from .redistribute import redistribute


# Full parameter names are "<prefix>.<spec name>": embed.wte, embed.wpe, layers.3.attn.wq, head.norm.weight,
# head.out (untied head) and head.wte (the last stage's copy of a tied embedding, compared to embed.wte).
# T5's relative-position tables: embed.rel_enc, embed.rel_dec on the first stage, copy<s>.embed.rel_enc on
# stage s > 0 (each stage's copy, compared to the first stage's by equivalence.py).
UNIT_PREFIX = {
    "embed.wte": "embed",
    "embed.wpe": "embed",
    "embed.patch": "embed",
    "embed.relpos": "embed",
    "head.wte": "head",
}
# Memory is reported per layer, for the embedding and for the head (with the last stage's tied copy).
UNIT_LABEL = {
    "embed.wte": "embedding",
    "embed.wpe": "embedding",
    "embed.patch": "embedding",
    "embed.relpos": "embedding",
    "relpos.copy": "embedding",
    "head.wte": "head",
}


@dataclass
class RunConfig:
    precision: Precision
    device: torch.device
    seed: int = 0
    adam: AdamConfig = field(default_factory=AdamConfig)
    # Dynamic loss scaling (loss_scale.py); None: off. fp16 needs it, any dtype may use it (float64 tests).
    loss_scale: LossScaleConfig | None = None
    # Testing: after the gradient sync of these steps, an inf is written into one gradient element on
    # rank inject_inf_rank only (None: the world's last rank), to check that every rank skips the step.
    inject_inf_steps: frozenset[int] = frozenset()
    inject_inf_rank: int | None = None
    # kernels.py: "off" (the written-out path the exactness tests pin), "fused" or "on" (fused + compiled
    # elementwise parts); entry points resolve --fast-kernels auto and check torch.compile (kernels.usable).
    kernels: str = "off"


@dataclass(frozen=True)
class SeqTables:
    """One CP part's constants: its real positions (None: 0 … seq − 1), RoPE cos/sin at them, and the CP
    group with the causal mask of its queries over the gathered keys (None with cp = 1)."""

    positions: torch.Tensor | None
    rope: tuple[torch.Tensor, torch.Tensor] | None
    attention: cp.CpAttention | None


def stages_of_layers(plan: Plan) -> list[int]:
    out = [0] * plan.model.layers
    for j, (a, b) in enumerate(plan.chunks):
        for i in range(a, b):
            out[i] = j % plan.pp
    return out


def plan_rank_sets(plan: Plan) -> list[tuple[int, ...]]:
    """Every process group the plan needs, in a fixed order (each rank creates all of them)."""
    P, n = plan.pp, plan.n
    layer_stage = stages_of_layers(plan)
    sets: list[tuple[int, ...]] = [tuple(range(P * n))]

    def add_layout(base: int, lay: Layout) -> None:
        for kind in ("tp", "sync", "cp"):
            sets.extend(tuple(base + x for x in g) for g in lay.groups(kind))

    for s in range(P):
        base = s * n
        sets.append(tuple(range(base, base + n)))
        if s in (0, P - 1):
            add_layout(base, plan.embedding.layout)
        for i, lp in enumerate(plan.layers):
            if layer_stage[i] == s:
                add_layout(base, lp.layout)
    if plan.model.tied and P > 1:
        for l in range(n):
            sets.append((l, (P - 1) * n + l))
    seen, out = set(), []
    for t in sets:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def create_groups(plan: Plan, groups: GroupCache) -> None:
    groups.ensure(plan_rank_sets(plan))
    groups.ensure_labeled(p2p_rank_sets(plan.pp, plan.virtual, plan.n))


def _unit_args(ex: "Executor", lp: LayerPlan) -> dict:
    """Unit arguments of a parameter block run under strategy `lp` (a layer's, or the embedding's). Its
    gradients are synchronised (and ZeRO shards) over the DP and CP ranks together: CP ranks hold the same
    parameters and each saw only its part of the sequence (src/strategy/layer-strategy.ts
    gradientSyncGroupSize)."""
    tp_group, sync_group, _ = ex.layout_groups(lp.layout)
    return dict(
        tp_group=tp_group,
        dp_group=sync_group,
        dp_type=lp.dp_type,
        sp=lp.layout.seq_split,
        device=ex.cfg.device,
        dtype=ex.cfg.precision.param_dtype,
        master_dtype=ex.cfg.precision.master_dtype,
    )


class LayerRunner:
    def __init__(self, ex: "Executor", i: int, lp: LayerPlan):
        self.index, self.layout, self.recompute = i, lp.layout, lp.recompute
        cfg = ex.plan.model
        self.ex = ex
        self.swin = swin_layers(cfg)[i] if cfg.is_swin else None
        if self.swin is not None:
            specs = SW.layer_specs(cfg, self.swin)
        else:
            specs = T5.t5_layer_specs(cfg, i) if cfg.is_t5 else M.layer_specs(cfg)
        args = _unit_args(ex, lp)
        self.unit = Unit(f"layers.{i}", specs, M.init_full(specs, cfg, ex.cfg.seed, f"layers.{i}"), **args)
        tables = ex.seq_tables(lp.layout)
        self.ctx = M.LayerContext(
            SW.stage_config(cfg, self.swin) if self.swin is not None else cfg,
            args["tp_group"],
            lp.layout.seq_split,
            lp.recompute == "selective",
            tables.rope,
            f"layers.{i}",
            tables.attention,
        )

    def _layer(self, x: torch.Tensor, params: dict, drop: DropoutKey | None, enc: torch.Tensor | None) -> torch.Tensor:
        cfg = self.ctx.cfg
        if self.swin is not None:
            return SW.layer_forward(x, params, self.ctx, self.swin, drop)
        if not cfg.is_t5:
            return M.layer_forward(x, params, self.ctx, drop)
        rel, _ = self.ex.relpos.materialize()
        if T5.is_decoder(cfg, self.index):
            return T5.decoder_layer(x, enc, params, self.ctx, rel["rel_dec"], self.ex.t5_positions[1], drop)
        final = self.index == cfg.encoder_layers - 1
        return T5.encoder_layer(x, params, self.ctx, rel["rel_enc"], self.ex.t5_positions[0], drop, final)

    def _forward(self, x: torch.Tensor, hooks: bool, drop: DropoutKey | None, enc: torch.Tensor | None = None) -> torch.Tensor:
        params, packer = self.unit.materialize(hooks)
        if not hooks:  # inside checkpointing, whose own hooks must stay the innermost
            return self._layer(x, params, drop, enc)
        with memory.saved_tensor_hooks([packer]):
            return self._layer(x, params, drop, enc)

    def __call__(self, x: torch.Tensor, drop: DropoutKey | None = None, enc: torch.Tensor | None = None) -> torch.Tensor:
        """``enc``: a T5 decoder layer's second input, the encoder's output in this layer's layout."""
        with memory.scope(f"layers.{self.index}"):
            if self.recompute == "full":
                # ZeRO-3 re-gathers inside the recomputed forward, so no saved-tensor hooks here. The
                # closure holds this micro-batch's (immutable) dropout key: the replay draws the same masks.
                if enc is not None:
                    return recompute.full(lambda y, e: self._forward(y, False, drop, e), x, enc)
                return recompute.full(lambda y: self._forward(y, False, drop), x)
            return self._forward(x, True, drop, enc)


class _End:
    """What the model's ends (embedding and head, of every family) share: they run under the plan's
    embedding strategy, its layout and TP group."""

    def _setup(self, ex: "Executor") -> dict:
        """Sets cfg, layout and tp_group; returns the Unit arguments of the embedding strategy."""
        self.cfg, self.layout = ex.plan.model, ex.plan.embedding.layout
        common = _unit_args(ex, ex.plan.embedding)
        self.tp_group = common["tp_group"]
        return common


class Embedding(_End):
    """Vocab-parallel word embedding (+ learned positions) over the embedding strategy's TP group."""

    def __init__(self, ex: "Executor"):
        common = self._setup(ex)
        cfg = self.cfg
        specs = M.wte_specs(cfg)
        tie = None
        if cfg.tied and ex.plan.pp > 1:  # the last stage holds a copy (Head); gradients are summed
            tie = ex.groups.get((ex.local, (ex.plan.pp - 1) * ex.plan.n + ex.local))
        self.wte = Unit(
            "embed.wte", specs, M.init_full(specs, cfg, ex.cfg.seed, "embed.wte"), tie_group=tie, **common
        )
        self.positions = ex.seq_tables(self.layout).positions
        self.wpe = None
        specs = M.wpe_specs(cfg)
        if specs:
            self.wpe = Unit("embed.wpe", specs, M.init_full(specs, cfg, ex.cfg.seed, "embed.wpe"), **common)

    @property
    def units(self) -> list[Unit]:
        return [self.wte] + ([self.wpe] if self.wpe else [])

    def __call__(self, tokens: torch.Tensor, drop: DropoutKey | None = None) -> torch.Tensor:
        p, packer = self.wte.materialize()
        wpe, packer2 = None, None
        if self.wpe is not None:
            pp_, packer2 = self.wpe.materialize()
            wpe = pp_["wpe"]
        with memory.scope("embedding"), memory.saved_tensor_hooks([packer, packer2]):
            return M.embed_forward(
                tokens, p["wte"], wpe, self.tp_group, self.layout.seq_split, self.cfg, drop, self.positions
            )

    def seq2seq(
        self, enc: torch.Tensor, dec: torch.Tensor, drop_enc: DropoutKey | None, drop_dec: DropoutKey | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T5: the encoder's tokens and the decoder's inputs looked up in the one word table (each
        vocab-parallel, SP-split along its own sequence), dropout sites ``embed`` and ``embed.dec``."""
        p, packer = self.wte.materialize()
        with memory.scope("embedding"), memory.saved_tensor_hooks([packer]):
            sp = self.layout.seq_split
            e = M.embed_forward(enc, p["wte"], None, self.tp_group, sp, self.cfg, drop_enc)
            d = M.embed_forward(dec, p["wte"], None, self.tp_group, sp, self.cfg, drop_dec, site="embed.dec")
            return e, d


class Head(_End):
    """Final norm, output projection (tied to the word embedding or not) and vocab-parallel loss."""

    def __init__(self, ex: "Executor", embedding: Embedding | None):
        common = self._setup(ex)
        cfg = self.cfg
        specs = M.head_specs(cfg)
        self.unit = Unit("head", specs, M.init_full(specs, cfg, ex.cfg.seed, "head"), **common)
        self.wte: Unit | None = None
        self.own_wte = False
        if cfg.tied:
            if embedding is not None:  # same stage: literally the same parameter
                self.wte = embedding.wte
            else:  # last stage's copy, initialised identically, gradients summed with the first stage's
                specs = M.wte_specs(cfg)
                tie = ex.groups.get((ex.local, (ex.plan.pp - 1) * ex.plan.n + ex.local))
                self.wte = Unit(
                    "head.wte",
                    specs,
                    M.init_full(specs, cfg, ex.cfg.seed, "embed.wte"),
                    counted=False,
                    tie_group=tie,
                    **common,
                )
                self.own_wte = True
        # The mean over every label token of the global batch (T5: the decoder's tokens).
        self.total_tokens = ex.plan.global_batch * (cfg.decoder_seq if cfg.is_t5 else ex.plan.seq)

    @property
    def units(self) -> list[Unit]:
        return [self.unit] + ([self.wte] if self.own_wte else [])

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        p, packer = self.unit.materialize()
        packer2 = None
        if self.wte is not None:
            pw, packer2 = self.wte.materialize()
            out_w = pw["wte"]
        else:
            out_w = p["out"]
        with memory.scope("head"), memory.saved_tensor_hooks([packer, packer2]):
            return M.head_forward(
                x, p, out_w, labels, self.tp_group, self.layout.seq_split, self.cfg, self.total_tokens
            )


class PatchEmbedding(_End):
    """ViT's patch embedding, class token and positions (vision.py), or Swin's patch embedding and patch
    norm (swin.py), replicated over the embedding strategy's TP group."""

    def __init__(self, ex: "Executor"):
        common = self._setup(ex)
        cfg = self.cfg
        specs = SW.embed_specs(cfg) if cfg.is_swin else vision.patch_specs(cfg)
        self.unit = Unit("embed.patch", specs, M.init_full(specs, cfg, ex.cfg.seed, "embed.patch"), **common)

    @property
    def units(self) -> list[Unit]:
        return [self.unit]

    def __call__(self, images: torch.Tensor, drop: DropoutKey | None = None) -> torch.Tensor:
        p, packer = self.unit.materialize()
        with memory.scope("embedding"), memory.saved_tensor_hooks([packer]):
            forward = SW.embed_forward if self.cfg.is_swin else vision.patch_embed_forward
            return forward(images, p, self.tp_group, self.layout.seq_split, self.cfg, drop)


class ClassifierHead(_End):
    """ViT's final norm, class-parallel classifier of the class token and loss (vision.py); Swin's of the
    mean over tokens (swin.py)."""

    def __init__(self, ex: "Executor"):
        common = self._setup(ex)
        cfg = self.cfg
        specs = SW.head_specs(cfg) if cfg.is_swin else vision.classifier_specs(cfg)
        self.unit = Unit("head", specs, M.init_full(specs, cfg, ex.cfg.seed, "head"), **common)
        self.total_samples = ex.plan.global_batch  # the loss is the mean over the global batch's samples

    @property
    def units(self) -> list[Unit]:
        return [self.unit]

    def __call__(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        p, packer = self.unit.materialize()
        with memory.scope("head"), memory.saved_tensor_hooks([packer]):
            forward = SW.head_forward if self.cfg.is_swin else vision.classifier_forward
            return forward(x, p, labels, self.tp_group, self.layout.seq_split, self.cfg, self.total_samples)


class Chunk:
    def __init__(self, ex: "Executor", j: int):
        self.ex, self.j = ex, j
        plan = ex.plan
        a, b = plan.chunks[j]
        self.layers = [ex.layer_runners[i] for i in range(a, b)]
        self.embed = ex.embedding if j == 0 else None
        self.head = ex.head if j == len(plan.chunks) - 1 else None
        self.in_layout = plan.layers[a].layout
        self.out_layout = plan.layers[b].layout if b < plan.model.layers else None
        # Tokens and width of the activation entering each layer and leaving the chunk (a Swin's change
        # at every stage: plan.layer_io); every move, send and dropout key uses the shape where it is.
        self.io = ex.io
        (seq_in, hidden_in), _ = self.io[a]
        b0, b1, spans = self.in_layout.block(ex.local, plan.micro_batch_size, seq_in)
        self.input_shape = (b1 - b0, span_length(spans), hidden_in)
        if plan.model.is_t5:
            # Both streams, the encoder's tokens first, concatenated along the sequence (t5.py).
            self.enc_len = span_length(spans)
            _, _, dec_spans = self.in_layout.block(ex.local, plan.micro_batch_size, plan.model.decoder_seq)
            self.input_shape = (b1 - b0, self.enc_len + span_length(dec_spans), plan.model.hidden)

    def forward(self, x: torch.Tensor | None, k: int) -> torch.Tensor:
        with memory.scope(f"chunk.{self.j}", micro=k):
            if self.ex.plan.model.is_t5:
                return self._forward_t5(x, k)
            return self._forward(x, k)

    def _forward(self, x: torch.Tensor | None, k: int) -> torch.Tensor:
        ex = self.ex
        move = ex.move
        if self.embed is not None:
            x = self.embed(ex.micro_batch(k)[0], ex.dropout_key(k, self.embed.layout))
            cur = self.embed.layout
        else:
            cur = self.in_layout
        for layer in self.layers:
            (seq_in, _), (seq_out, _) = self.io[layer.index]
            x = layer(move(x, cur, layer.layout, seq_in), ex.dropout_key(k, layer.layout, seq_out))
            cur = layer.layout
        seq = self.io[self.layers[-1].index][1][0]
        if self.head is not None:
            return self.head(move(x, cur, self.head.layout, seq), ex.micro_batch(k)[-1])
        return move(x, cur, self.out_layout, seq)

    def _forward_t5(self, x: torch.Tensor | None, k: int) -> torch.Tensor:
        """T5's two streams (t5.py): e is the encoder's hidden stream, then its output; d the decoder's
        input embeddings, then its hidden stream. Both follow every layer's layout."""
        ex = self.ex
        cfg = ex.plan.model
        dseq = cfg.decoder_seq
        if self.embed is not None:
            enc, dec, _ = ex.micro_batch(k)
            lay = self.embed.layout
            e, d = self.embed.seq2seq(enc, dec, ex.dropout_key(k, lay), ex.dropout_key(k, lay, dseq))
            cur = lay
        else:
            e, d = x[:, : self.enc_len], x[:, self.enc_len :]
            cur = self.in_layout
        for layer in self.layers:
            e, d = ex.move(e, cur, layer.layout), ex.move(d, cur, layer.layout, dseq)
            if T5.is_decoder(cfg, layer.index):
                d = layer(d, ex.dropout_key(k, layer.layout, dseq), enc=e)
            else:
                e = layer(e, ex.dropout_key(k, layer.layout))
            cur = layer.layout
        if self.head is not None:
            # The encoder's output ends here: its gradient comes from the decoder layers' cross-attention.
            return self.head(ex.move(d, cur, self.head.layout, dseq), ex.micro_batch(k)[-1])
        e, d = ex.move(e, cur, self.out_layout), ex.move(d, cur, self.out_layout, dseq)
        return torch.cat([e, d], dim=1)


class Executor:
    def __init__(self, plan: Plan, rank: int, groups: GroupCache, cfg: RunConfig, data):
        self.plan, self.rank, self.groups, self.cfg, self.data = plan, rank, groups, cfg, data
        P, n = plan.pp, plan.n
        self.stage, self.local = rank // n, rank % n
        self.stage_group = groups.get(range(self.stage * n, (self.stage + 1) * n))
        self.world_group = groups.get(range(P * n))
        cfg_m = plan.model
        self.rope = None
        if cfg_m.positional == "rope":
            self.rope = M.rope_tables(plan.seq, cfg_m.head_dim, cfg.device, cfg.precision.param_dtype)
        self._seq_tables: dict[tuple[int, int], tuple] = {}  # (cp, cp rank) -> positions, RoPE, mask
        self.relpos: Unit | None = None
        self.t5_positions: tuple[T5.StackPositions, T5.StackPositions] | None = None
        if cfg_m.is_t5:
            self._build_t5()
        self.io = layer_io(cfg_m, plan.seq)  # (tokens, hidden) entering and leaving each layer
        my_chunks = [v * P + self.stage for v in range(plan.virtual)]
        my_layers = [i for j in my_chunks for i in range(*plan.chunks[j])]
        self.layer_runners = {i: LayerRunner(self, i, plan.layers[i]) for i in sorted(my_layers)}
        last = len(plan.chunks) - 1
        image = plan.model.is_image
        self.embedding = (PatchEmbedding(self) if image else Embedding(self)) if 0 in my_chunks else None
        self.head = (ClassifierHead(self) if image else Head(self, self.embedding)) if last in my_chunks else None
        self.units: list[Unit] = []
        if self.embedding:
            self.units += self.embedding.units
        self.units += [self.layer_runners[i].unit for i in sorted(my_layers)]
        if self.head:
            self.units += self.head.units
        if self.relpos is not None:
            self.units.append(self.relpos)
        self.chunks = [Chunk(self, j) for j in my_chunks]
        self.runner = PipelineRunner(
            self.chunks,
            pp=P,
            virtual=plan.virtual,
            micro=plan.micro_batches,
            stage=self.stage,
            local=self.local,
            n=n,
            kind=plan.schedule,
            groups=groups,
            device=cfg.device,
            act_dtype=cfg.precision.act_dtype,
        )
        emb_tp_rank = plan.embedding.layout.coords(self.local)[0]
        self.reports_loss = self.head is not None and emb_tp_rank == 0
        self.step_index = 0
        self._batch_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.scaler = DynamicLossScaler(cfg.loss_scale) if cfg.loss_scale is not None else None
        inject_rank = cfg.inject_inf_rank if cfg.inject_inf_rank is not None else P * n - 1
        self.inject_inf_steps = cfg.inject_inf_steps if rank == inject_rank else frozenset()
        # Loss scaling of the last step ({"lossScale": S, "skipped": bool}; empty without loss scaling).
        self.last_step_info: dict = {}

    def _build_t5(self) -> None:
        """T5's relative-position tables (a copy on every rank, gradients summed over the world, counted
        once in the norm: t5.py) and the buckets and causal mask of each stack."""
        plan, cfg = self.plan, self.cfg
        specs = T5.relpos_specs(plan.model)
        world = self.world_group
        self.relpos = Unit(
            "embed.relpos" if self.stage == 0 else "relpos.copy",
            specs,
            M.init_full(specs, plan.model, cfg.seed, "embed.relpos"),
            tp_group=self.groups.get([self.rank]),
            dp_group=self.groups.get([self.rank]),
            dp_type="ddp",
            sp=False,
            device=cfg.device,
            dtype=cfg.precision.param_dtype,
            master_dtype=cfg.precision.master_dtype,
            counted=self.rank == 0,
            tie_group=world,
        )
        dtype = cfg.precision.param_dtype
        self.t5_positions = (
            T5.StackPositions(plan.seq, False, dtype, cfg.device),
            T5.StackPositions(plan.model.decoder_seq, True, dtype, cfg.device),
        )

    # -------------------------------------------------------------- helpers used by the chunks
    def layout_groups(self, layout: Layout) -> tuple[Group, Group, Group]:
        """This rank's (TP, gradient-sync = DP × CP, CP) groups under ``layout``."""
        base = self.stage * self.plan.n
        l = self.local
        return tuple(
            self.groups.get(base + x for x in members)
            for members in (layout.tp_group_of(l), layout.sync_group_of(l), layout.cp_group_of(l))
        )

    def seq_tables(self, layout: Layout) -> SeqTables:
        """Positions, RoPE tables and CP attention of this rank's CP part under ``layout``. The tensors
        depend only on (cp, cp rank) and are built once for it: constants shared by every layer and
        micro-batch, not activations. The CP group is the layout's own (two layouts with the same cp and
        CP rank can group a rank with different peers)."""
        if layout.cp == 1:
            return SeqTables(None, self.rope, None)
        key = (layout.cp, layout.grid(self.local)[1])
        if key not in self._seq_tables:
            self._seq_tables[key] = self._build_seq_tables(layout)
        pos, rope, mask = self._seq_tables[key]
        return SeqTables(pos, rope, cp.CpAttention(self.layout_groups(layout)[2], mask))

    def _build_seq_tables(self, layout: Layout) -> tuple:
        plan, device = self.plan, self.cfg.device
        pos = cp.positions(layout.cp_part(self.local, plan.seq), device)
        rope = None if self.rope is None else (self.rope[0][pos], self.rope[1][pos])
        mask = None
        if plan.model.causal:
            # The gathered keys come in CP coordinate order (all_gather's order over the group's sorted
            # ranks, which the CP coordinate follows in every layout), whatever the group's members.
            keys = torch.cat([cp.positions(cp_spans(layout.cp, c, plan.seq), device) for c in range(layout.cp)])
            mask = cp.causal_mask(pos, keys, self.cfg.precision.param_dtype)
        return pos, rope, mask

    def seq_table_tensors(self) -> list[torch.Tensor]:
        """Every constant seq_tables built (excluded from the activation accounting)."""
        out = []
        for pos, rope, mask in self._seq_tables.values():
            out += [pos] + list(rope or ()) + ([mask] if mask is not None else [])
        for stack in self.t5_positions or ():
            out += stack.tensors()
        return out

    def move(self, x: torch.Tensor, src: Layout, dst: Layout, seq: int | None = None) -> torch.Tensor:
        """``x`` from layout ``src`` to ``dst``; ``seq``: its tokens per sample (default the plan's; a T5's
        decoder stream has its own)."""
        seq = self.plan.seq if seq is None else seq
        return redistribute(x, src, dst, self.stage_group, self.plan.micro_batch_size, seq)

    def micro_batch(self, k: int) -> tuple[torch.Tensor, ...]:
        """(inputs, labels) of micro-batch k for this rank's DP slice in the embedding layout; a T5's
        (encoder tokens, decoder inputs, labels)."""
        if k not in self._batch_cache:
            plan = self.plan
            mb = plan.micro_batch_size
            lay = plan.embedding.layout
            b0, b1, _ = lay.block(self.local, mb, plan.seq)
            tensors = batch(self.data, self.step_index, plan.global_batch, k * mb + b0, b1 - b0)
            if lay.cp > 1:  # the tokens and labels of this rank's CP part, at their real positions
                spans = lay.cp_part(self.local, plan.seq)
                tensors = tuple(torch.cat([t[:, a:b] for a, b in spans], dim=1) for t in tensors)
            self._batch_cache[k] = tuple(t.to(self.cfg.device) for t in tensors)
        return self._batch_cache[k]

    def dropout_key(self, k: int, layout: Layout, seq: int | None = None) -> DropoutKey | None:
        """The samples and sequence part this rank holds of micro-batch k in ``layout`` (dropout.py), or
        None when the plan trains without dropout. ``seq``: the stream's tokens per sample (default the
        plan's; a T5's decoder stream has its own)."""
        plan = self.plan
        if not plan.dropout:
            return None
        seq = plan.seq if seq is None else seq
        mb = plan.micro_batch_size
        b0, b1, spans = layout.block(self.local, mb, seq)
        first = self.step_index * plan.global_batch + k * mb + b0
        return DropoutKey(self.cfg.seed, first, b1 - b0, seq, spans)

    # -------------------------------------------------------------- one optimizer step
    def train_step(self, step: int) -> float:
        """Runs global step ``step`` (0-based); returns the global mean token loss (same on every rank)."""
        with kernels.active(self.cfg.kernels):
            return self._train_step(step)

    def _train_step(self, step: int) -> float:
        self.step_index = step
        self._batch_cache.clear()
        for u in self.units:
            u.zero_grad()
        scale = self.scaler.scale if self.scaler is not None else 1.0
        loss = self.runner.run(self.cfg.precision.autocast(self.cfg.device), scale)
        sync_gradients(self.units)
        if step in self.inject_inf_steps:
            self.units[0]._grad.view(-1)[0] = math.inf
        sq = torch.zeros((), dtype=torch.float64, device=self.cfg.device)
        found = torch.zeros((), dtype=torch.float64, device=self.cfg.device)
        for u in self.units:
            sq += u.grad_sq()
            if self.scaler is not None:
                found += u.nonfinite()
        # One all-reduce over the world: the squared norm, the loss and the found-inf count, so every rank
        # of every stage and DP group sees the same flag and takes the same decision.
        both = torch.stack([sq, loss if self.reports_loss else torch.zeros_like(loss), found])
        self.world_group.all_reduce_(both)
        loss_value = both[1].item()
        self._batch_cache.clear()
        if self.scaler is None:
            coef = clip_coefficient(both[0].item(), self.cfg.adam.max_grad_norm)
            optimizer_step(self.units, coef, self.cfg.adam)
            return loss_value
        skipped = both[2].item() > 0
        self.last_step_info = {"lossScale": scale, "skipped": skipped}
        if skipped:  # nothing changes: no parameter, master, Adam state or step count
            for u in self.units:
                u.zero_grad()
        else:
            # The norm of the unscaled gradient: sum of squares of the scaled one / S² (exact for S = 2^k).
            coef = clip_coefficient(both[0].item() / (scale * scale), self.cfg.adam.max_grad_norm)
            optimizer_step(self.units, coef, self.cfg.adam, 1.0 / scale)
        self.scaler.update(skipped)
        return loss_value

    # -------------------------------------------------------------- memory accounting
    def train_step_accounted(self, step: int) -> tuple[float, dict]:
        """``train_step`` with memory accounting (memory.py); returns the loss and this rank's figures."""
        acc = memory.Accountant()
        acc.exclude(t for u in self.units for t in u.tensors())
        if self.rope is not None:
            acc.exclude(self.rope)
        acc.exclude(self.seq_table_tensors())
        memory.install(acc)
        try:
            loss = self.train_step(step)
        finally:
            memory.install(None)
        return loss, self.memory_report(acc)

    def memory_report(self, acc: "memory.Accountant") -> dict:
        """Model states, activations of one micro-batch (every chunk of this rank), transients, by unit."""
        units: dict[str, dict[str, int]] = {}

        def entry(label: str) -> dict[str, int]:
            return units.setdefault(label, {"modelStateBytes": 0, "activationBytes": 0})

        for u in self.units:
            entry(UNIT_LABEL.get(u.name, u.name))["modelStateBytes"] += u.state_bytes()
        for label, nbytes in acc.activation_bytes(0).items():
            entry(label)["activationBytes"] += nbytes
        states = sum(e["modelStateBytes"] for e in units.values())
        activations = sum(e["activationBytes"] for e in units.values())
        transient = max(acc.transients.values(), default=0)
        return {
            "modelStateBytes": states,
            "activationBytes": activations,
            "transientBytes": transient,
            "transients": dict(acc.transients),
            "peakActivationBytes": acc.peak_live_bytes,
            "accountedPeakBytes": states + acc.peak_live_bytes + transient,
            "units": units,
        }

    # -------------------------------------------------------------- full parameters (equivalence)
    def gather_parameters(self) -> dict[str, torch.Tensor] | None:
        """Unsharded parameters by name, on global rank 0 (None elsewhere). Collective over the world."""
        mine: dict[str, torch.Tensor] = {}
        for u in self.units:
            prefix = UNIT_PREFIX.get(u.name, u.name)
            if u.name == "relpos.copy":
                prefix = f"copy{self.stage}.embed"
            for name, t in u.gather_full().items():
                mine[f"{prefix}.{name}"] = t
        if self.world_group.size == 1:
            return mine
        # Stage leaders (local rank 0) send their tensors to rank 0 (object collectives would need NumPy).
        merged: dict[str, torch.Tensor] = dict(mine) if self.rank == 0 else {}
        for s in range(1, self.plan.pp):
            leader = s * self.plan.n
            if self.rank == leader:
                comm.send_object(mine, 0, self.cfg.device)
            elif self.rank == 0:
                merged.update(comm.recv_object(leader, self.cfg.device))
        return merged if self.rank == 0 else None

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """The units' states (the loss scaler's is saved next to them by train.py: scaler_state_dict)."""
        return {u.name: u.state_dict() for u in self.units}

    def scaler_state_dict(self) -> dict | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_scaler_state_dict(self, state: dict | None) -> None:
        if (state is None) != (self.scaler is None):
            raise ValueError("checkpoint and run differ in loss scaling (--loss-scale)")
        if self.scaler is not None:
            self.scaler.load_state_dict(state)

    def load_state_dict(self, state: dict) -> None:
        names = sorted(u.name for u in self.units)
        if sorted(state) != names:
            raise ValueError(f"checkpoint holds units {sorted(state)}, this rank has {names}")
        for u in self.units:
            u.load_state_dict(state[u.name])
