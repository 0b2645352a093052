"""T5 (t5.py) against independent computations: the relative-position buckets against values worked out
by hand from T5's definition, the executor's single-process loss against a plain re-implementation of the
encoder-decoder (explicit softmax with the per-head bias, cross-attention, RMSNorm), the parameter count
against t5-base's published 222,903,552 (which src/model/derived.ts also gives), and the seq2seq data as a
pure, learnable function of (seed, sample)."""
import json
import pathlib
import unittest

import torch
import torch.nn.functional as F

from galvatron_runtime import t5 as T5
from galvatron_runtime.comm import GroupCache
from galvatron_runtime.data import SyntheticData, batch, make_data
from galvatron_runtime.device import precision
from galvatron_runtime.executor import Executor, RunConfig
from galvatron_runtime.lr import parameter_count
from galvatron_runtime.optim import AdamConfig
from galvatron_runtime.plan import ModelConfig, PlanError, parse_plan

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = json.loads((ROOT / "test" / "fixtures" / "plan-validation" / "base-plan.json").read_text())
TINY_T5 = json.loads((ROOT / "examples" / "tiny-t5.json").read_text())


def t5_plan(model: dict | None = None, **training) -> dict:
    """The validator table's base plan on one rank with a T5 model (tiny-t5 by default)."""
    raw = json.loads(json.dumps(BASE))
    raw["model"] = dict(model or TINY_T5)
    raw["training"].update(seqLen=raw["model"]["seqLen"], globalBatch=4, microBatches=1, **training)
    one = {"tp": 1, "sequenceParallel": False, "cp": 1, "dp": 1, "dpType": "ddp", "recompute": "none", "tpConsecutive": True}
    raw["embedding"] = dict(one)
    raw["layers"] = [dict(one) for _ in range(raw["model"]["layers"])]
    raw["pipeline"] = {"degree": 1, "schedule": "1f1b", "virtualStages": 1, "chunks": [{"start": 0, "end": raw["model"]["layers"]}]}
    return raw


class BucketTest(unittest.TestCase):
    def test_bidirectional_buckets(self):
        # 32 buckets, 16 per direction: offsets 0..7 exact, then log-spaced up to 128 (bucket 15).
        b = T5.bucket_table(200, bidirectional=True)
        self.assertEqual(b[0, :9].tolist(), [0, 17, 18, 19, 20, 21, 22, 23, 24])  # keys after the query: 16 + offset
        self.assertEqual(b[8, :9].tolist(), [8, 7, 6, 5, 4, 3, 2, 1, 0])  # keys before: the offset
        self.assertEqual(b[10, 0].item(), 8)  # offset 10: 8 + floor(log(10/8)/log(16)·8) = 8
        self.assertEqual(b[0, 127].item(), 31)  # offset 127: 16 + 8 + floor(log(127/8)/log(16)·8) = 31
        self.assertEqual(b[150, 0].item(), 15)  # beyond 128: the last bucket
        self.assertEqual(b[0, 32].item(), 16 + 12)  # 8 + floor(log(4)/log(16)·8) = 12

    def test_causal_buckets(self):
        # All 32 buckets for the past: offsets 0..15 exact, log-spaced up to 128; the future is bucket 0
        # (masked anyway).
        c = T5.bucket_table(200, bidirectional=False)
        self.assertEqual(c[20, 5:21].flip(0).tolist(), list(range(16)))  # keys 20, 19, …, 5
        self.assertEqual(c[20, 21].item(), 0)
        self.assertEqual(c[32, 0].item(), 16 + 5)  # 16 + floor(log(2)/log(8)·16) = 21
        self.assertEqual(c[150, 0].item(), 31)


class BiasedAttentionTest(unittest.TestCase):
    def test_gradients_and_values(self):
        # The flash-like biased attention against autograd's numerical gradients and SDPA's values, causal
        # or not, with and without grouped kv heads.
        torch.manual_seed(0)
        for causal in (False, True):
            for kv in (4, 2):
                with self.subTest(causal=causal, kv=kv):
                    pos = T5.StackPositions(6, causal, torch.float64, "cpu")
                    q = torch.randn(2, 4, 6, 3, dtype=torch.float64, requires_grad=True)
                    k = torch.randn(2, kv, 6, 3, dtype=torch.float64, requires_grad=True)
                    v = torch.randn(2, kv, 6, 3, dtype=torch.float64, requires_grad=True)
                    table = torch.randn(T5.T5_RELATIVE_BUCKETS, 4, dtype=torch.float64, requires_grad=True)
                    fn = lambda q, k, v, t: T5._BiasedAttention.apply(q, k, v, t, pos)  # noqa: E731
                    self.assertTrue(torch.autograd.gradcheck(fn, (q, k, v, table)))
                    bias = T5._bias(table, pos, torch.float64)
                    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, enable_gqa=kv != 4)
                    torch.testing.assert_close(fn(q, k, v, table), ref, rtol=1e-12, atol=1e-12)


def rms(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def attend(xq, xkv, w, prefix, heads, bias=None):
    """Plain multi-head attention: softmax(QKᵀ/√d + bias)V, bias [heads, q, k]."""
    b, sq, h = xq.shape
    d = h // heads
    q = (xq @ w[f"{prefix}.wq"].t()).view(b, sq, heads, d).transpose(1, 2)
    k = (xkv @ w[f"{prefix}.wk"].t()).view(b, -1, heads, d).transpose(1, 2)
    v = (xkv @ w[f"{prefix}.wv"].t()).view(b, -1, heads, d).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / d**0.5
    if bias is not None:
        scores = scores + bias
    o = scores.softmax(-1) @ v
    return o.transpose(1, 2).reshape(b, sq, h) @ w[f"{prefix}.wo"].t()


def plain_t5_loss(p: dict, cfg: ModelConfig, enc: torch.Tensor, dec: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The encoder-decoder written out from the paper, on the executor's parameter names."""
    heads, s, t = cfg.heads, enc.shape[1], dec.shape[1]

    def bias(table, q_len, bidirectional):
        rel = torch.arange(q_len)[None, :] - torch.arange(q_len)[:, None]  # key − query
        return table[T5.relative_bucket(rel, bidirectional)].permute(2, 0, 1)

    def mlp(x, w, i):
        return F.gelu(x @ w[f"layers.{i}.mlp.w1"].t(), approximate="tanh") @ w[f"layers.{i}.mlp.w2"].t()

    def lw(i):
        return {k[len(f"layers.{i}.") :]: v for k, v in p.items() if k.startswith(f"layers.{i}.")}

    x = p["embed.wte"][enc]
    enc_bias = bias(p["embed.rel_enc"], s, True)
    for i in range(cfg.encoder_layers):
        w = lw(i)
        x = x + attend(rms(x, w["ln1.weight"]), rms(x, w["ln1.weight"]), w, "attn", heads, enc_bias)
        x = x + mlp(rms(x, p[f"layers.{i}.ln2.weight"]), p, i)
    memory = rms(x, p[f"layers.{cfg.encoder_layers - 1}.final.weight"])
    y = p["embed.wte"][dec]
    causal = torch.zeros(t, t, dtype=y.dtype).masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    dec_bias = bias(p["embed.rel_dec"], t, False) + causal
    for i in range(cfg.encoder_layers, cfg.layers):
        w = lw(i)
        y = y + attend(rms(y, w["ln1.weight"]), rms(y, w["ln1.weight"]), w, "attn", heads, dec_bias)
        y = y + attend(rms(y, w["lnc.weight"]), memory, w, "cross", heads)
        y = y + mlp(rms(y, p[f"layers.{i}.ln2.weight"]), p, i)
    logits = rms(y, p["head.norm.weight"]) @ p["embed.wte"].t()
    return F.cross_entropy(logits.reshape(-1, cfg.vocab), labels.reshape(-1))


def executor(raw: dict, lr: float = 1e-3) -> Executor:
    plan = parse_plan(raw, 1)
    cfg = RunConfig(precision("float64"), torch.device("cpu"), 0, AdamConfig(lr=lr))
    data = make_data("synthetic", plan.model.vocab, plan.seq, 0, plan.model)
    return Executor(plan, 0, GroupCache(0, distributed=False), cfg, data)


class ModelTest(unittest.TestCase):
    def test_the_executor_computes_the_plain_encoder_decoder(self):
        ex = executor(t5_plan(dropout=False))
        params = ex.gather_parameters()
        enc, dec, labels = batch(ex.data, 0, 4, 0, 4)
        expect = plain_t5_loss(params, ex.plan.model, enc, dec, labels)
        loss = ex.train_step(0)  # the loss of step 0 is computed with the initial parameters
        self.assertAlmostEqual(loss, expect.item(), delta=1e-12 * expect.item())

    def test_every_parameter_trains_and_the_loss_falls(self):
        ex = executor(t5_plan(dropout=False))
        before = ex.gather_parameters()
        losses = [ex.train_step(k) for k in range(6)]
        after = ex.gather_parameters()
        self.assertLess(losses[-1], losses[0] - 0.1, losses)
        # The relative-position tables, the encoder (through cross-attention) and the final norms all move.
        for name in before:
            self.assertGreater((after[name] - before[name]).abs().max().item(), 1e-5, name)

    def test_parameters_match_t5_base(self):
        # HF google-t5/t5-base: 222,903,552 parameters (tied head), as src/model/derived.ts counts them.
        cfg = ModelConfig("t5", 24, 768, 12, 12, 3072, "gelu", 32128, 512, True, "none", encoder_layers=12, decoder_seq=128)
        self.assertEqual(parameter_count(cfg), 222_903_552)


class DataTest(unittest.TestCase):
    def test_seq2seq_samples(self):
        data = make_data("synthetic", 256, 32, 5, parse_plan(t5_plan(), 1).model)
        enc, dec, labels = data.sample(17)
        base = SyntheticData(256, 32, 5).sample(17)
        self.assertTrue(torch.equal(enc, base[:32]))
        self.assertTrue(torch.equal(labels, enc[:16]))  # the decoder reproduces the encoder's first 16 tokens
        self.assertEqual(dec[0].item(), T5.DECODER_START)
        self.assertTrue(torch.equal(dec[1:], labels[:-1]))  # teacher forcing
        e, d, l = batch(data, 1, 4, 2, 2)  # samples 6 and 7
        self.assertTrue(torch.equal(l[1], data.sample(7)[2]))
        self.assertEqual((e.shape, d.shape, l.shape), ((2, 32), (2, 16), (2, 16)))


class PlanTest(unittest.TestCase):
    def test_t5_rules(self):
        plan = parse_plan(t5_plan(), 1)
        self.assertEqual((plan.model.encoder_layers, plan.model.decoder_seq, plan.model.norm, plan.model.bias), (2, 16, "rmsnorm", False))
        cases = [
            ({"model": {**TINY_T5, "positional": "learned"}}, "plan.model.positional"),
            ({"model": {**TINY_T5, "decoderLayers": 3}}, "plan.model.layers"),
            ({"model": {k: v for k, v in TINY_T5.items() if k != "encoderLayers"}}, "plan.model.encoderLayers"),
            ({"training.seqLen": 16}, "plan.training.seqLen"),
        ]
        for patch, field in cases:
            raw = t5_plan(patch.get("model"))
            if "training.seqLen" in patch:
                raw["training"]["seqLen"] = patch["training.seqLen"]
            with self.subTest(field=field), self.assertRaises(PlanError) as cm:
                parse_plan(raw, 1)
            self.assertEqual(cm.exception.field, field, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
