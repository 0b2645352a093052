"""Read a galvatron.plan/v1 plan, refuse what the executor cannot run exactly, and derive rank layouts.

Everything here is pure (no torch.distributed): every rank validates the same plan before any process
group exists, so a bad plan is refused with exit code 2 and a message naming the field.

Rank layout (DESIGN.md §3, src/strategy/rank-layout.ts and its golden file): world = pipeline.degree × n,
stage s owns global ranks [s·n, (s+1)·n). Inside a stage a layer with tpConsecutive puts TP on stride 1,
CP on stride tp and DP on stride tp·cp; with tpConsecutive false DP takes stride 1, CP stride dp and TP
stride dp·cp. The gradient-sync group of a layer is its CP and DP ranks together (they hold the same
parameter shard).

Context parallelism splits the sequence in 2·cp chunks and gives CP rank c chunks c and 2·cp − 1 − c
(Megatron-LM / TransformerEngine's causal load balancing: every rank gets one early and one late chunk,
so each attends to about the same number of keys). Under sequence parallelism the TP ranks split the
rank's part (its two chunks, in that order) further. A rank's tokens are therefore a few contiguous
``spans`` of real positions, which is what masks, positions and dropout are computed from.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any


class PlanError(Exception):
    """A plan the executor refuses. ``field`` is the JSON path of the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


FAMILIES = ("gpt", "llama", "bert", "vit", "t5", "swin")
DP_TYPES = ("ddp", "zero1", "zero2", "zero3")
RECOMPUTE = ("none", "selective", "full")
SCHEDULES = ("gpipe", "1f1b", "interleaved-1f1b")
PRECISIONS = ("bf16", "fp16", "fp32")
# Context parallelism gives every CP rank 2 of 2·cp sequence chunks (src/plan/executor-support.ts).
CP_CHUNKS_PER_RANK = 2
# The largest sizes accepted, the same numbers as src/limits.ts (the shared validator table refuses one past
# each on both sides): a typo such as 1e12 layers or samples is refused before any memory is allocated.
LIMITS = {
    "layers": 4096,
    "hidden": 1 << 18,
    "heads": 1 << 13,
    "ffnHidden": 1 << 20,
    "vocab": 1 << 23,
    "seqLen": 1 << 22,
    "globalBatch": 1 << 24,
}


@dataclass(frozen=True)
class ModelConfig:
    family: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn_hidden: int
    ffn_type: str  # gelu | swiglu
    vocab: int
    max_seq: int  # model.seqLen (size of learned position table)
    tied: bool
    positional: str  # learned | rope | none
    # ViT (vision.py): the image the patch embedding cuts; 0 for token models.
    image_size: int = 0
    patch_size: int = 0
    channels: int = 0
    # T5 (t5.py): layers [0, encoder_layers) are the encoder's, the rest the decoder's; the decoder's
    # tokens per sample (the encoder's are max_seq = training.seqLen). 0 for other families.
    encoder_layers: int = 0
    decoder_seq: int = 0
    # Swin (swin.py): layers per stage, heads per stage and the window side (swin_layers derives each
    # layer's shape from them); empty for other families.
    swin_depths: tuple[int, ...] = ()
    swin_heads: tuple[int, ...] = ()
    window: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def norm(self) -> str:
        # T5's layer norm is a scale without centring or bias (src/model/derived.ts familyNorm: rmsnorm).
        return "rmsnorm" if self.family in ("llama", "t5") else "layernorm"

    @property
    def bias(self) -> bool:
        return self.family not in ("llama", "t5")

    @property
    def causal(self) -> bool:
        """Self-attention of every layer is causal (a T5's decoder layers are, its encoder layers are not:
        t5.py decides per stack)."""
        return self.family not in ("bert", "vit", "t5", "swin")

    @property
    def is_image(self) -> bool:
        return self.family in ("vit", "swin")

    @property
    def is_swin(self) -> bool:
        return self.family == "swin"

    @property
    def is_t5(self) -> bool:
        return self.family == "t5"


Spans = tuple[tuple[int, int], ...]  # contiguous [start, end) ranges of token positions, in the order held


def cp_spans(cp: int, cp_rank: int, seq: int) -> Spans:
    """The positions CP rank ``cp_rank`` holds: chunks cp_rank and 2·cp − 1 − cp_rank of 2·cp (one span
    if cp = 1)."""
    if cp == 1:
        return ((0, seq),)
    chunk = seq // (2 * cp)
    late = 2 * cp - 1 - cp_rank
    return ((cp_rank * chunk, (cp_rank + 1) * chunk), (late * chunk, (late + 1) * chunk))


def sub_spans(spans: Spans, start: int, end: int) -> Spans:
    """Elements [start, end) of the sequence the spans list (in their order), as spans of positions."""
    out, offset = [], 0
    for a, b in spans:
        lo, hi = max(start - offset, 0), min(end - offset, b - a)
        if lo < hi:
            out.append((a + lo, a + hi))
        offset += b - a
    return tuple(out)


def span_length(spans: Spans) -> int:
    return sum(b - a for a, b in spans)


@dataclass(frozen=True)
class SwinLayer:
    """One Swin layer's shape, as src/model/derived.ts swinGroups prices it: stage ``stage`` has
    hidden·2^stage channels, its heads, a grid of (side/2^stage)² tokens and windows of
    min(windowSize, grid) tokens per side; the first layer of every stage after the first begins with
    patch merging (its input: 4× the tokens at half the channels)."""

    stage: int
    in_stage: int  # index of the layer inside its stage (odd ones shift their windows)
    grid: int  # tokens per side of the stage's grid
    window: int
    hidden: int
    heads: int
    ffn_hidden: int
    merge: bool

    @property
    def tokens(self) -> int:
        return self.grid * self.grid

    @property
    def in_tokens(self) -> int:
        return 4 * self.tokens if self.merge else self.tokens

    @property
    def in_hidden(self) -> int:
        return self.hidden // 2 if self.merge else self.hidden


def swin_layers(cfg: "ModelConfig") -> list[SwinLayer]:
    side = cfg.image_size // cfg.patch_size
    out = []
    for stage, (depth, heads) in enumerate(zip(cfg.swin_depths, cfg.swin_heads)):
        grid = side >> stage
        for j in range(depth):
            out.append(
                SwinLayer(stage, j, grid, min(cfg.window, grid), cfg.hidden << stage, heads, cfg.ffn_hidden << stage, stage > 0 and j == 0)
            )
    return out


def layer_io(cfg: "ModelConfig", seq: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per layer ((tokens, hidden) entering it, (tokens, hidden) leaving it): the plan's sequence and the
    model's width everywhere, except a Swin's, whose stages change both."""
    if cfg.family == "swin":
        return [((l.in_tokens, l.in_hidden), (l.tokens, l.hidden)) for l in swin_layers(cfg)]
    return [((seq, cfg.hidden), (seq, cfg.hidden))] * cfg.layers


@dataclass(frozen=True)
class Layout:
    """Where one layer's (or the embedding's) activations and shards sit inside a stage of n ranks."""

    tp: int
    dp: int
    sp: bool
    tp_consecutive: bool
    n: int
    cp: int = 1

    def grid(self, local: int) -> tuple[int, int, int]:
        """(tp_rank, cp_rank, dp_rank) of local rank ``local`` (src/strategy/rank-layout.ts groupStrides)."""
        if self.tp_consecutive:
            return local % self.tp, (local // self.tp) % self.cp, local // (self.tp * self.cp)
        return local // (self.dp * self.cp), (local // self.dp) % self.cp, local % self.dp

    def coords(self, local: int) -> tuple[int, int]:
        """(tp_rank, dp_rank) of local rank ``local``."""
        t, _, d = self.grid(local)
        return t, d

    def _group_key(self, local: int, kind: str) -> tuple[int, ...]:
        """The coordinates a group of ``kind`` shares: a TP group varies tp only, a CP group cp only, a DP
        group dp only, the gradient-sync group cp and dp (it shares the TP coordinate)."""
        t, c, d = self.grid(local)
        return {"tp": (c, d), "cp": (t, d), "dp": (t, c), "sync": (t,)}[kind]

    def group_of(self, local: int, kind: str) -> list[int]:
        key = self._group_key(local, kind)
        return [l for l in range(self.n) if self._group_key(l, kind) == key]

    def tp_group_of(self, local: int) -> list[int]:
        return self.group_of(local, "tp")

    def cp_group_of(self, local: int) -> list[int]:
        return self.group_of(local, "cp")

    def dp_group_of(self, local: int) -> list[int]:
        return self.group_of(local, "dp")

    def sync_group_of(self, local: int) -> list[int]:
        """The gradient-sync group: every rank with ``local``'s TP coordinate (its CP and DP ranks)."""
        return self.group_of(local, "sync")

    def groups(self, kind: str) -> list[list[int]]:
        """Every group of one kind (tp, cp, dp, sync) in the stage, each once, in order of first member
        (one pass over the stage: stages of thousands of ranks)."""
        by_key: dict[tuple[int, ...], list[int]] = {}
        for l in range(self.n):
            by_key.setdefault(self._group_key(l, kind), []).append(l)
        return sorted(by_key.values(), key=lambda members: members[0])

    @property
    def seq_split(self) -> bool:
        return self.sp and self.tp > 1

    def cp_part(self, local: int, seq: int) -> Spans:
        """The positions of ``local``'s CP rank (before SP splits them over TP)."""
        return cp_spans(self.cp, self.grid(local)[1], seq)

    def block(self, local: int, batch: int, seq: int) -> tuple[int, int, Spans]:
        """Samples [b0, b1) and the token spans of a [batch, seq, hidden] micro-batch activation held by ``local``."""
        t, _, d = self.grid(local)
        bs = batch // self.dp
        spans = self.cp_part(local, seq)
        if self.seq_split:
            per = span_length(spans) // self.tp
            spans = sub_spans(spans, t * per, (t + 1) * per)
        return d * bs, (d + 1) * bs, spans

    def blocks(self, batch: int, seq: int) -> tuple[tuple[int, int, Spans], ...]:
        return tuple(self.block(l, batch, seq) for l in range(self.n))


@dataclass(frozen=True)
class LayerPlan:
    layout: Layout
    dp_type: str
    recompute: str


@dataclass(frozen=True)
class Plan:
    raw: dict
    model: ModelConfig
    global_batch: int
    micro_batches: int
    seq: int
    precision: str
    dropout: bool
    pp: int
    virtual: int
    schedule: str
    chunks: tuple[tuple[int, int], ...]  # chunk j -> [start, end); runs on stage j mod pp
    n: int  # ranks per stage
    embedding: LayerPlan
    layers: tuple[LayerPlan, ...]

    @property
    def world(self) -> int:
        return self.pp * self.n

    @property
    def micro_batch_size(self) -> int:
        return self.global_batch // self.micro_batches

    def fingerprint(self) -> str:
        """Hash of everything that determines the numerics (checkpoints refuse a different plan)."""
        keep = {k: self.raw.get(k) for k in ("model", "training", "pipeline", "embedding", "layers")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def load_plan_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise PlanError("--plan", f"file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise PlanError("--plan", f"{path} is not valid JSON ({e})") from None
    except UnicodeDecodeError:
        # Binary, gzip or UTF-16 files: a plan is UTF-8 JSON.
        raise PlanError("--plan", f"{path} is not UTF-8 text; give the JSON file `galvatron plan -o` writes") from None
    except RecursionError:
        raise PlanError("--plan", f"{path} nests too deeply to be a plan") from None
    except IsADirectoryError:
        raise PlanError("--plan", f"{path} is a directory; give the plan file") from None
    except OSError as e:
        # A symlink loop, no permission, a device that cannot be read.
        raise PlanError("--plan", f"cannot read {path} ({e.strerror or e}); check the path") from None
    if not isinstance(raw, dict):
        raise PlanError("plan", "expected a JSON object")
    return raw


def _get(obj: Any, path: str, field: str, kind: type | tuple = int, default: Any = ...) -> Any:
    if not isinstance(obj, dict) or path not in obj:
        if default is not ...:
            return default
        raise PlanError(field, "missing")
    value = obj[path]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise PlanError(field, f"expected a whole number, got {json.dumps(value)}")
    if kind is not int and not isinstance(value, kind):
        raise PlanError(field, f"expected {getattr(kind, '__name__', kind)}, got {json.dumps(value)}")
    if kind is int and value <= 0:
        raise PlanError(field, f"must be > 0, got {value}")
    if kind is int and path in LIMITS and value > LIMITS[path]:
        raise PlanError(field, f"must be ≤ {LIMITS[path]:,} (the largest this planner accepts), got {value}")
    return value


def _model(raw: dict) -> ModelConfig:
    m = raw.get("model")
    if not isinstance(m, dict):
        raise PlanError("plan.model", "missing")
    family = _get(m, "family", "plan.model.family", str)
    if family not in FAMILIES:
        raise PlanError(
            "plan.model.family",
            f"{family!r} is not supported by the executor (it runs {', '.join(FAMILIES)})",
        )
    t5_keys = () if family == "t5" else ("encoderLayers", "decoderLayers", "decoderSeqLen")
    image_keys = () if family in ("vit", "swin") else ("image",)
    for key in t5_keys + (() if family == "swin" else ("swin",)) + image_keys:
        if key in m:
            raise PlanError(f"plan.model.{key}", f"not supported for family {family!r}")
    layers = _get(m, "layers", "plan.model.layers")
    hidden = _get(m, "hidden", "plan.model.hidden")
    heads = _get(m, "heads", "plan.model.heads")
    kv = _get(m, "kvHeads", "plan.model.kvHeads", default=heads)
    kv = _get({"heads": kv}, "heads", "plan.model.kvHeads")
    ffn = _get(m, "ffnHidden", "plan.model.ffnHidden", default=4 * hidden)
    ffn = _get({"ffnHidden": ffn}, "ffnHidden", "plan.model.ffnHidden")
    ffn_type = _get(m, "ffnType", "plan.model.ffnType", str, default="gelu")
    if ffn_type not in ("gelu", "swiglu"):
        raise PlanError("plan.model.ffnType", f"expected gelu or swiglu, got {ffn_type!r}")
    vocab = _get(m, "vocab", "plan.model.vocab")
    max_seq = _get(m, "seqLen", "plan.model.seqLen")
    tied = _get(m, "tiedEmbeddings", "plan.model.tiedEmbeddings", bool, default=True)
    positional = _get(m, "positional", "plan.model.positional", str, default="learned")
    if positional not in ("learned", "rope", "none"):
        raise PlanError(
            "plan.model.positional", f"{positional!r} is not supported by the executor (learned, rope or none)"
        )
    if hidden % heads and family != "swin":
        raise PlanError("plan.model.heads", f"hidden {hidden} is not divisible by heads {heads}")
    if heads % kv:
        raise PlanError("plan.model.kvHeads", f"heads {heads} is not divisible by kvHeads {kv}")
    if positional == "rope" and (hidden // heads) % 2:
        raise PlanError("plan.model.positional", f"rope needs an even head dimension, got {hidden // heads}")
    image = _image(m, family, max_seq, tied, positional)
    t5 = _t5(m, family, layers, max_seq, positional)
    cfg = ModelConfig(family, layers, hidden, heads, kv, ffn, ffn_type, vocab, max_seq, tied, positional, *image, *t5)
    if family == "swin":
        cfg = _swin(m, cfg)
    return cfg


def _swin(m: dict, cfg: ModelConfig) -> ModelConfig:
    """Swin's depths, stage heads and window (src/plan/validate.ts checkSwin): what swin_layers needs to
    build the layers the search priced, and windows that tile every stage's grid."""
    sw = m.get("swin")
    if not isinstance(sw, dict):
        raise PlanError("plan.model.swin", "missing; a swin model needs {depths, stageHeads, windowSize}")
    depths, heads = sw.get("depths"), sw.get("stageHeads")
    for key, value in (("depths", depths), ("stageHeads", heads)):
        if not isinstance(value, list) or not value:
            raise PlanError(f"plan.model.swin.{key}", "expected a non-empty list of whole numbers")
        for i, v in enumerate(value):
            _get({"k": v}, "k", f"plan.model.swin.{key}[{i}]")
    window = _get(sw, "windowSize", "plan.model.swin.windowSize")
    if len(heads) != len(depths):
        raise PlanError("plan.model.swin.stageHeads", f"{len(heads)} entries but depths has {len(depths)}; one per stage")
    if sum(depths) != cfg.layers:
        raise PlanError("plan.model.layers", f"{cfg.layers} is not the sum of swin.depths {sum(depths)}")
    if cfg.heads != heads[0]:
        raise PlanError("plan.model.heads", f"{cfg.heads} is not swin.stageHeads[0] {heads[0]} (heads is the first stage's)")
    side = cfg.image_size // cfg.patch_size
    if side % (1 << (len(depths) - 1)):
        raise PlanError(
            "plan.model.image.imageSize",
            f"the {side}×{side} patch grid cannot be halved {len(depths) - 1} times for {len(depths)} stages",
        )
    for i, h in enumerate(heads):
        if (cfg.hidden << i) % h:
            raise PlanError(f"plan.model.swin.stageHeads[{i}]", f"stage width {cfg.hidden << i} is not divisible by {h} heads")
        grid = side >> i
        w = min(window, grid)
        if grid % w:
            raise PlanError(
                "plan.model.swin.windowSize",
                f"windows of {w}×{w} tokens do not tile stage {i + 1}'s {grid}×{grid} grid; use a window that divides every stage's grid",
            )
    return dataclasses.replace(cfg, swin_depths=tuple(depths), swin_heads=tuple(heads), window=window)


def _t5(m: dict, family: str, layers: int, max_seq: int, positional: str) -> tuple[int, int]:
    """T5's (encoderLayers, decoderSeqLen); (0, 0) for other families (src/plan/validate.ts checkT5)."""
    if family != "t5":
        return 0, 0
    enc = _get(m, "encoderLayers", "plan.model.encoderLayers")
    dec = _get(m, "decoderLayers", "plan.model.decoderLayers")
    if enc + dec != layers:
        raise PlanError("plan.model.layers", f"{layers} is not encoderLayers {enc} + decoderLayers {dec}")
    dseq = _get(m, "decoderSeqLen", "plan.model.decoderSeqLen", default=max_seq)
    dseq = _get({"seqLen": dseq}, "seqLen", "plan.model.decoderSeqLen")
    if positional != "none":
        raise PlanError(
            "plan.model.positional",
            f"a t5 places tokens by its relative-position buckets (positional none), not {positional!r}",
        )
    return enc, dseq


def _image(m: dict, family: str, max_seq: int, tied: bool, positional: str) -> tuple[int, int, int]:
    """An image model's (imageSize, patchSize, channels); (0, 0, 0) for token models."""
    if family not in ("vit", "swin"):
        return 0, 0, 0
    img = m.get("image")
    if not isinstance(img, dict):
        raise PlanError("plan.model.image", f"missing; a {family} model needs {{imageSize, patchSize, channels}}")
    size = _get(img, "imageSize", "plan.model.image.imageSize")
    patch = _get(img, "patchSize", "plan.model.image.patchSize")
    channels = _get(img, "channels", "plan.model.image.channels", default=3)
    channels = _get({"k": channels}, "k", "plan.model.image.channels")
    if size % patch:
        raise PlanError("plan.model.image.patchSize", f"{patch} does not divide imageSize {size}")
    if family == "swin":
        # Swin has no class token and places tokens by the relative position bias of its windows.
        if max_seq != (size // patch) ** 2:
            raise PlanError("plan.model.seqLen", f"a swin sequence is its {(size // patch) ** 2} patches, not {max_seq}")
        if tied:
            raise PlanError("plan.model.tiedEmbeddings", "a swin classifier has no word table to tie to; set it to false")
        if positional != "none":
            raise PlanError(
                "plan.model.positional", f"a swin places tokens by its windows' relative position bias (none), not {positional!r}"
            )
        return size, patch, channels
    if max_seq != (size // patch) ** 2 + 1:
        raise PlanError(
            "plan.model.seqLen",
            f"a vit sequence is its {(size // patch) ** 2} patches + the class token = {(size // patch) ** 2 + 1}, not {max_seq}",
        )
    if tied:
        raise PlanError("plan.model.tiedEmbeddings", "a vit classifier has no word table to tie to; set it to false")
    if positional != "learned":
        raise PlanError("plan.model.positional", f"the executor's vit learns its positions (learned), not {positional!r}")
    return size, patch, channels


def _strategy(obj: Any, field: str, n: int) -> LayerPlan:
    if not isinstance(obj, dict):
        raise PlanError(field, "expected an object")
    tp = _get(obj, "tp", f"{field}.tp")
    dp = _get(obj, "dp", f"{field}.dp")
    cp = _get(obj, "cp", f"{field}.cp", default=1)
    cp = _get({"k": cp}, "k", f"{field}.cp")
    sp = _get(obj, "sequenceParallel", f"{field}.sequenceParallel", bool, default=False)
    dp_type = _get(obj, "dpType", f"{field}.dpType", str, default="ddp")
    if dp_type not in DP_TYPES:
        raise PlanError(f"{field}.dpType", f"expected one of {', '.join(DP_TYPES)}, got {dp_type!r}")
    recompute = _get(obj, "recompute", f"{field}.recompute", str, default="none")
    if recompute not in RECOMPUTE:
        raise PlanError(f"{field}.recompute", f"expected one of {', '.join(RECOMPUTE)}, got {recompute!r}")
    consecutive = _get(obj, "tpConsecutive", f"{field}.tpConsecutive", bool, default=True)
    if tp * cp * dp != n:
        raise PlanError(
            field, f"tp·cp·dp = {tp}·{cp}·{dp} = {tp * cp * dp} but each pipeline stage has {n} ranks"
        )
    return LayerPlan(Layout(tp, dp, sp, consecutive, n, cp), dp_type, recompute)


def parse_plan(raw: dict, world_size: int | None = None) -> Plan:
    """Validate ``raw`` against the model and (when given) the launched world size."""
    fmt = raw.get("format")
    if fmt != "galvatron.plan/v1":
        raise PlanError("plan.format", f"expected 'galvatron.plan/v1', got {json.dumps(fmt)}")
    model = _model(raw)
    tr = raw.get("training")
    if not isinstance(tr, dict):
        raise PlanError("plan.training", "missing")
    gb = _get(tr, "globalBatch", "plan.training.globalBatch")
    mbs = _get(tr, "microBatches", "plan.training.microBatches")
    seq = _get(tr, "seqLen", "plan.training.seqLen", default=model.max_seq)
    seq = _get({"k": seq}, "k", "plan.training.seqLen")
    precision = _get(tr, "precision", "plan.training.precision", str, default="bf16")
    if precision not in PRECISIONS:
        raise PlanError("plan.training.precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    dropout = _get(tr, "dropout", "plan.training.dropout", bool, default=False)
    if gb % mbs:
        raise PlanError("plan.training.microBatches", f"globalBatch {gb} is not divisible by microBatches {mbs}")
    if model.is_image and seq != model.max_seq:
        raise PlanError(
            "plan.training.seqLen", f"a {model.family} trains on its whole image: {model.max_seq} tokens, not {seq}"
        )
    if model.is_t5 and seq != model.max_seq:
        # The cost model prices a t5's layers at plan.model.seqLen (encoder) and decoderSeqLen.
        raise PlanError(
            "plan.training.seqLen", f"a t5's encoder runs plan.model.seqLen = {model.max_seq} tokens as priced, not {seq}"
        )
    if model.positional == "learned" and seq > model.max_seq:
        raise PlanError(
            "plan.training.seqLen", f"{seq} exceeds the learned position table of plan.model.seqLen {model.max_seq}"
        )
    pl = raw.get("pipeline")
    if not isinstance(pl, dict):
        raise PlanError("plan.pipeline", "missing")
    pp = _get(pl, "degree", "plan.pipeline.degree")
    virtual = _get(pl, "virtualStages", "plan.pipeline.virtualStages", default=1)
    virtual = _get({"k": virtual}, "k", "plan.pipeline.virtualStages")
    schedule = _get(pl, "schedule", "plan.pipeline.schedule", str, default="1f1b")
    if schedule not in SCHEDULES:
        raise PlanError("plan.pipeline.schedule", f"expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if virtual > 1 and pp == 1:
        raise PlanError("plan.pipeline.virtualStages", "virtual stages need pipeline.degree > 1")
    if (schedule == "interleaved-1f1b") != (virtual > 1):
        raise PlanError(
            "plan.pipeline.schedule",
            f"{schedule} with {virtual} virtual stages; interleaved-1f1b goes with virtualStages > 1 and only with it",
        )
    if virtual > 1 and mbs % pp:
        raise PlanError(
            "plan.training.microBatches",
            f"interleaved 1F1B needs microBatches ({mbs}) divisible by pipeline.degree ({pp})",
        )
    chunks_raw = pl.get("chunks")
    if not isinstance(chunks_raw, list):
        raise PlanError("plan.pipeline.chunks", "missing")
    if len(chunks_raw) != pp * virtual:
        raise PlanError(
            "plan.pipeline.chunks",
            f"{len(chunks_raw)} chunks but degree·virtualStages = {pp}·{virtual} = {pp * virtual}",
        )
    chunks = []
    expect = 0
    for j, c in enumerate(chunks_raw):
        f = f"plan.pipeline.chunks[{j}]"
        if not isinstance(c, dict):
            raise PlanError(f, "expected {start, end}")
        for bound in ("start", "end"):
            value = c.get(bound)
            if isinstance(value, bool) or not isinstance(value, int):  # JSON true is a Python int
                raise PlanError(f"{f}.{bound}", f"expected a whole number, got {json.dumps(value)}")
        if c["start"] != expect:
            raise PlanError(f"{f}.start", f"expected {expect} (chunks must cover the layers contiguously)")
        if c["end"] <= c["start"]:
            raise PlanError(f"{f}.end", "an empty chunk cannot run (end must be > start)")
        chunks.append((c["start"], c["end"]))
        expect = c["end"]
    if expect != model.layers:
        raise PlanError("plan.pipeline.chunks", f"chunks cover {expect} layers but plan.model.layers is {model.layers}")
    layers_raw = raw.get("layers")
    if not isinstance(layers_raw, list):
        raise PlanError("plan.layers", "missing")
    if len(layers_raw) != model.layers:
        raise PlanError("plan.layers", f"{len(layers_raw)} entries but plan.model.layers is {model.layers}")
    emb_raw = raw.get("embedding")
    if not isinstance(emb_raw, dict):
        raise PlanError("plan.embedding", "missing")
    n_tp = _get(emb_raw, "tp", "plan.embedding.tp")
    n_dp = _get(emb_raw, "dp", "plan.embedding.dp")
    n = n_tp * n_dp * (emb_raw.get("cp", 1) if isinstance(emb_raw.get("cp", 1), int) else 1)
    if world_size is not None and pp * n != world_size:
        raise PlanError(
            "plan.pipeline.degree",
            f"the plan needs pipeline.degree × GPUs per stage = {pp} × {n} = {pp * n} ranks but WORLD_SIZE is {world_size}",
        )
    embedding = _strategy(emb_raw, "plan.embedding", n)
    if model.is_image and embedding.layout.cp > 1:
        # The class token (position 0) feeds the classifier: the ends run on whole sequences.
        raise PlanError(
            "plan.embedding.cp",
            f"a {model.family}'s patch embedding and classifier run without context parallelism; use cp 1",
        )
    layers = tuple(_strategy(l, f"plan.layers[{i}]", n) for i, l in enumerate(layers_raw))
    mb = gb // mbs
    swin = swin_layers(model) if model.is_swin else []
    for i, (field, lp) in enumerate([("plan.embedding", embedding)] + [(f"plan.layers[{i}]", l) for i, l in enumerate(layers)]):
        lay = lp.layout
        if model.is_t5:
            _check_t5_strategy(field, lay, model)
        if model.is_swin:
            _check_swin_strategy(field, lay, model, None if field == "plan.embedding" else swin[i - 1])
        if mb % lay.dp:
            raise PlanError(
                f"{field}.dp",
                f"a micro-batch of {mb} samples (globalBatch/microBatches) is not divisible by dp {lay.dp}",
            )
        if lay.cp > 1 and seq % (CP_CHUNKS_PER_RANK * lay.cp):
            raise PlanError(
                f"{field}.cp",
                f"seqLen {seq} is not divisible by 2·cp = {CP_CHUNKS_PER_RANK * lay.cp} (context parallelism splits "
                "the sequence in 2·cp chunks for causal load balancing)",
            )
        if lay.seq_split and (seq // lay.cp) % lay.tp:
            part = f"the {seq // lay.cp} tokens per CP rank" if lay.cp > 1 else f"seqLen {seq}"
            raise PlanError(f"{field}.sequenceParallel", f"{part} is not divisible by tp {lay.tp}")
        if field == "plan.embedding":
            if model.vocab % lay.tp:
                raise PlanError(f"{field}.tp", f"vocab {model.vocab} is not divisible by tp {lay.tp}")
        elif model.is_swin:
            pass  # checked per stage above
        else:
            if model.heads % lay.tp:
                raise PlanError(f"{field}.tp", f"heads {model.heads} is not divisible by tp {lay.tp}")
            if model.kv_heads % lay.tp:
                raise PlanError(f"{field}.tp", f"kvHeads {model.kv_heads} is not divisible by tp {lay.tp}")
            if model.ffn_hidden % lay.tp:
                raise PlanError(f"{field}.tp", f"ffnHidden {model.ffn_hidden} is not divisible by tp {lay.tp}")
    return Plan(
        raw=raw,
        model=model,
        global_batch=gb,
        micro_batches=mbs,
        seq=seq,
        precision=precision,
        dropout=dropout,
        pp=pp,
        virtual=virtual,
        schedule=schedule,
        chunks=tuple(chunks),
        n=n,
        embedding=embedding,
        layers=layers,
    )


def _check_t5_strategy(field: str, lay: Layout, model: ModelConfig) -> None:
    """What the executor's t5 cannot run exactly (t5.py): context parallelism; SP that does not split both
    streams (every layout holds the encoder's and the decoder's tokens, t5.py)."""
    if lay.cp > 1:
        raise PlanError(
            f"{field}.cp",
            "the executor runs t5 without context parallelism (its relative-position bias and cross-attention "
            "are not split over CP); use cp 1",
        )
    if lay.seq_split and (model.max_seq % lay.tp or model.decoder_seq % lay.tp):
        raise PlanError(
            f"{field}.sequenceParallel",
            f"SP splits both of a t5's streams over tp {lay.tp}: the encoder's {model.max_seq} and the decoder's "
            f"{model.decoder_seq} tokens must both divide by it",
        )


def _check_swin_strategy(field: str, lay: Layout, model: ModelConfig, layer: SwinLayer | None) -> None:
    """What the executor's swin cannot run exactly (swin.py): context parallelism (windows and patch
    merging need whole grids); a tp that does not split a layer's heads (and their bias columns) or MLP;
    SP that does not split a layer's tokens (the embedding's layout holds the first stage's tokens and, at
    the head, the last stage's)."""
    if lay.cp > 1:
        raise PlanError(
            f"{field}.cp",
            "the executor runs swin without context parallelism (windows and patch merging need the whole grid); use cp 1",
        )
    if layer is None:
        last = swin_layers(model)[-1]
        tokens, what = (model.max_seq, last.tokens), f"the embedding's {model.max_seq} and the head's {last.tokens}"
    else:
        tokens, what = (layer.tokens, layer.in_tokens), f"this layer's {layer.tokens}"
        if layer.heads % lay.tp:
            raise PlanError(f"{field}.tp", f"stage {layer.stage + 1}'s {layer.heads} heads are not divisible by tp {lay.tp}")
        if layer.ffn_hidden % lay.tp:
            raise PlanError(f"{field}.tp", f"stage {layer.stage + 1}'s ffnHidden {layer.ffn_hidden} is not divisible by tp {lay.tp}")
    if lay.seq_split and any(t % lay.tp for t in tokens):
        raise PlanError(f"{field}.sequenceParallel", f"SP splits {what} tokens over tp {lay.tp}: they must divide by it")


def reference_plan(plan: Plan) -> Plan:
    """The single-process reference of ``plan``: same model, batch and data, one rank, one micro-batch."""
    one = LayerPlan(Layout(1, 1, False, True, 1), "ddp", "none")
    return Plan(
        raw=plan.raw,
        model=plan.model,
        global_batch=plan.global_batch,
        micro_batches=1,
        seq=plan.seq,
        precision=plan.precision,
        dropout=plan.dropout,  # the same masks: they depend on (seed, sample, site), not on the layout
        pp=1,
        virtual=1,
        schedule="gpipe",
        chunks=((0, plan.model.layers),),
        n=1,
        embedding=one,
        layers=tuple(one for _ in plan.layers),
    )
