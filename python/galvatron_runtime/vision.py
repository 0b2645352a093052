"""ViT's ends (Dosovitskiy et al. 2021): the patch embedding with its class token, and the classifier.

Between them the layers are the encoder layers of model.py (pre-norm, LayerNorm, GeLU MLP, biases,
bidirectional attention), as the cost model prices them (src/model/derived.ts: ViT layers are encoders).

Patch embedding: the image [b, C, H, W] cut into (H/p)·(W/p) patches of C·p·p values, each projected to
the hidden size (a linear layer, the same as a stride-p convolution), a learned class token prepended and
learned positions added: [b, 1 + patches, hidden]. Its parameters are replicated over TP, as in
Megatron's ViT: every TP rank computes the whole embedding (it is small: C·p²·h), then, with SP, keeps its
part of the sequence.

Classifier: final LayerNorm, then a linear layer from the class token's output to the classes, split over
TP by class (vocab-parallel, like the language head: ``plan.model.vocab`` is the number of classes),
and the cross-entropy over the TP group. The loss of a step is the mean over the global batch's samples.

Data: sample g of the run is a pure function of (seed, g): its class c is drawn from (seed, g), and its
image is class c's prototype (a fixed pattern per class, drawn from the seed) plus noise. A classifier can
learn it, so a few steps show the loss falling from ln(classes).
"""
from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F

from . import dropout
from .comm import Group
from .dropout import DropoutKey
from .model import ParamSpec, norm, norm_specs
from .plan import ModelConfig
from .sp import gather_seq_for_linear
from .tp import copy_to_tp
from .vocab_parallel import cross_entropy


def patch_specs(cfg: ModelConfig) -> list[ParamSpec]:
    """The embedding unit: all replicated over TP; under SP each TP rank uses its tokens only, so the
    gradients are partial and summed over TP (sp_region)."""
    h, inner = cfg.hidden, cfg.channels * cfg.patch_size**2
    return [
        ParamSpec("patch.w", (h, inner), None, "normal", True),
        ParamSpec("patch.b", (h,), None, "normal", True),
        ParamSpec("cls", (h,), None, "normal", True),
        ParamSpec("wpe", (cfg.max_seq, h), None, "normal", True),
    ]


def classifier_specs(cfg: ModelConfig) -> list[ParamSpec]:
    """Final norm (replicated) and the classifier, split over TP by class with its bias."""
    return norm_specs(cfg, "norm") + [
        ParamSpec("classifier.w", (cfg.vocab, cfg.hidden), 0, "normal"),
        ParamSpec("classifier.b", (cfg.vocab,), 0, "normal"),
    ]


def patches(images: torch.Tensor, patch: int) -> torch.Tensor:
    """[b, C, H, W] -> [b, (H/p)·(W/p), C·p·p], patches in row-major order, values ordered (C, p, p)
    (the order of a stride-p convolution's weight, so HF ViT weights would load by a reshape)."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // patch) * (w // patch), c * patch * patch)


def patch_embed_forward(
    images: torch.Tensor,
    p: dict,
    group: Group,
    sp: bool,
    cfg: ModelConfig,
    drop: DropoutKey | None = None,
) -> torch.Tensor:
    """images [b, C, H, W] -> [b, seq (or this TP rank's seq/tp with SP), hidden], after dropout."""
    x = F.linear(patches(images.to(p["patch.w"].dtype), cfg.patch_size), p["patch.w"], p["patch.b"])
    cls = p["cls"].view(1, 1, -1).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + p["wpe"].unsqueeze(0)
    if sp and group.size > 1:
        # Every TP rank holds the whole (replicated) embedding; SP keeps this rank's tokens. The gradient
        # of the replicated parameters is then partial per rank and summed over TP (sp_region specs).
        x = x.chunk(group.size, dim=1)[group.rank]
    return dropout.apply(x, drop, "embed")


def classifier_forward(
    x: torch.Tensor,
    p: dict,
    labels: torch.Tensor,
    group: Group,
    sp: bool,
    cfg: ModelConfig,
    total_samples: int,
) -> torch.Tensor:
    """Final norm, class-parallel logits of the class token and cross-entropy; labels [b]. Returns
    sum(sample losses) / total_samples."""
    h = norm(x, p, "norm", cfg)
    h = gather_seq_for_linear(h, group) if sp else copy_to_tp(h, group)
    logits = F.linear(h[:, :1], p["classifier.w"], p["classifier.b"])  # [b, 1, classes/tp]
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return cross_entropy(logits, labels.view(-1, 1), group, cfg.vocab).sum() / total_samples


def _seed_of(seed: int, g: int, kind: str) -> int:
    digest = hashlib.sha256(f"galvatron-images/{kind}/{seed}/{g}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


# Noise relative to the prototypes' unit variance: the classes overlap a little, so the loss does not
# reach zero at once, but a linear probe of the class token separates them.
IMAGE_NOISE = 0.5


class SyntheticImages:
    """Sample g: (image [C, H, W] float32, class). Class c's prototype is drawn from (seed, c) when needed,
    so no table of classes·C·H·W values is kept (1000 classes of 224² RGB would be 600 MB)."""

    def __init__(self, classes: int, channels: int, image_size: int, seed: int):
        self.classes, self.seed = classes, seed
        self.shape = (channels, image_size, image_size)

    def prototype(self, c: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(_seed_of(self.seed, c, "prototype"))
        return torch.randn(self.shape, generator=gen)

    def sample(self, g: int) -> tuple[torch.Tensor, int]:
        gen = torch.Generator().manual_seed(_seed_of(self.seed, g, "sample"))
        c = int(torch.randint(0, self.classes, (1,), generator=gen).item())
        noise = torch.randn(self.shape, generator=gen) * IMAGE_NOISE
        return self.prototype(c) + noise, c


def image_batch(data: SyntheticImages, step: int, global_batch: int, first: int, count: int):
    """Samples [first, first+count) of the step's global batch -> (images [count, C, H, W], labels [count])."""
    base = step * global_batch + first
    pairs = [data.sample(base + i) for i in range(count)]
    return torch.stack([im for im, _ in pairs]), torch.tensor([c for _, c in pairs], dtype=torch.long)
