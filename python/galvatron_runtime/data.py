"""Training data: sample g of the run is a pure function of (seed, g), so step k holds the same samples
whatever the plan, and resuming at step k needs no data-loader state beyond k.

Sample g = step·globalBatch + i holds seqLen+1 tokens: inputs are tokens[0:seqLen], labels
tokens[1:seqLen+1]. A text file: its bytes are the tokens (vocab ≥ 256), sample g is the window at an
offset drawn from (seed, g).

``synthetic`` is learnable, so that a few steps show the loss falling: a small grammar fixed by the seed
(MOTIFS motifs of MOTIF_LEN tokens over an alphabet of at most ALPHABET tokens of the vocabulary), and
sample g a run of motifs drawn from (seed, g), entered at a random offset. A model first learns the
alphabet (the loss falls from ln(vocab) towards ln(ALPHABET)), then the motifs: inside a motif the next
token is fixed, so the floor is about ln(MOTIFS)/MOTIF_LEN nats per token. Uniform random tokens, as
before, taught nothing: their loss stays at ln(vocab) whatever the model does.
"""
from __future__ import annotations

import hashlib
import os

import torch

from .device import SetupError
from .t5 import Seq2SeqData, seq2seq_batch
from .vision import SyntheticImages, image_batch


def _sample_seed(seed: int, g: int, kind: str) -> int:
    digest = hashlib.sha256(f"galvatron-data/{kind}/{seed}/{g}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


ALPHABET = 64
MOTIFS = 32
MOTIF_LEN = 8


class SyntheticData:
    def __init__(self, vocab: int, seq: int, seed: int):
        self.vocab, self.seq, self.seed = vocab, seq, seed
        gen = torch.Generator().manual_seed(_sample_seed(seed, 0, "grammar"))
        alphabet = torch.randperm(vocab, generator=gen)[: min(ALPHABET, vocab)]
        picks = torch.randint(0, len(alphabet), (MOTIFS, MOTIF_LEN), generator=gen)
        self.motifs = alphabet[picks]  # [MOTIFS, MOTIF_LEN] token ids

    def sample(self, g: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(_sample_seed(self.seed, g, "synthetic"))
        count = (self.seq + 1) // MOTIF_LEN + 2
        order = torch.randint(0, MOTIFS, (count,), generator=gen)
        offset = int(torch.randint(0, MOTIF_LEN, (1,), generator=gen).item())
        return self.motifs[order].reshape(-1)[offset : offset + self.seq + 1].clone()


class TextFileData:
    def __init__(self, path: str, vocab: int, seq: int, seed: int):
        if vocab < 256:
            raise SetupError(f"--data: {path} is read as byte tokens, which need plan.model.vocab >= 256, got {vocab}")
        if not os.path.isfile(path):
            raise SetupError(f"--data: {path} not found; give a text file, or synthetic")
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) < seq + 1:
            raise SetupError(f"--data: {path} holds {len(raw)} bytes, fewer than seqLen+1 = {seq + 1}")
        self.tokens = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
        self.seq, self.seed = seq, seed

    def sample(self, g: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(_sample_seed(self.seed, g, "text"))
        offset = int(torch.randint(0, len(self.tokens) - self.seq, (1,), generator=gen).item())
        return self.tokens[offset : offset + self.seq + 1].clone()


def make_data(source: str, vocab: int, seq: int, seed: int, model=None):
    """The run's samples; ``model`` (plan.ModelConfig) picks images for a vit or swin, seq2seq samples for a t5."""
    if model is not None and model.is_image:
        if source != "synthetic":
            raise SetupError(f"--data: a {model.family} trains on synthetic images; {source} holds text")
        return SyntheticImages(vocab, model.channels, model.image_size, seed)
    base = SyntheticData(vocab, seq, seed) if source == "synthetic" else TextFileData(source, vocab, seq, seed)
    if model is not None and model.is_t5:
        return Seq2SeqData(base, model.decoder_seq)
    return base


def batch(data, step: int, global_batch: int, first: int, count: int) -> tuple[torch.Tensor, ...]:
    """Samples [first, first+count) of the step's global batch -> (inputs, labels), each [count, seq]
    (images: [count, C, H, W] and [count]; t5: encoder tokens, decoder inputs and labels, t5.py)."""
    if isinstance(data, SyntheticImages):
        return image_batch(data, step, global_batch, first, count)
    if isinstance(data, Seq2SeqData):
        return seq2seq_batch(data, step, global_batch, first, count)
    base = step * global_batch + first
    toks = torch.stack([data.sample(base + i) for i in range(count)])
    return toks[:, :-1].contiguous(), toks[:, 1:].contiguous()
