"""Dropout masks (dropout.py): a function of (seed, sample, site), independent of how the batch is split
over micro-batches, DP ranks and sequence shards; keep fraction and 1/(1 − p) scaling; exact replay under
recomputation; one-rank executor runs with several micro-batches and recompute match the reference."""
import math
import unittest

import torch

from galvatron_runtime import dropout as D
from galvatron_runtime import model as M
from galvatron_runtime import recompute
from galvatron_runtime.comm import Group, GroupCache
from galvatron_runtime.data import SyntheticData
from galvatron_runtime.device import precision
from galvatron_runtime.executor import Executor, RunConfig
from galvatron_runtime.plan import cp_spans, parse_plan, reference_plan, sub_spans

from .plan_matrix import GPT, make_plan, strategy

SOLO = Group((0,), None, 0)
SEQ, HIDDEN = 16, 32


def key(first, count, s0=0, s1=SEQ, seed=0, p=D.DROPOUT_P):
    return D.DropoutKey(seed, first, count, SEQ, ((s0, s1),), p)


class MaskTest(unittest.TestCase):
    def test_mask_independent_of_batch_split(self):
        # Step 2 of a global batch of 8: samples 16..23, drawn whole ...
        whole = D.keep_mask(key(16, 8), "layers.1.attn", HIDDEN)
        self.assertEqual(whole.shape, (8, SEQ, HIDDEN))
        self.assertEqual(whole.dtype, torch.bool)
        # ... as 4 micro-batches of 2, each split over dp 2 (one sample per rank) ...
        parts = [D.keep_mask(key(16 + i, 1), "layers.1.attn", HIDDEN) for i in range(8)]
        self.assertTrue(torch.equal(torch.cat(parts), whole))
        # ... as 2 micro-batches of 4, and as sequence-parallel shards over tp 4 (each rank its tokens).
        halves = [D.keep_mask(key(16 + 4 * k, 4), "layers.1.attn", HIDDEN) for k in range(2)]
        self.assertTrue(torch.equal(torch.cat(halves), whole))
        for tp in (2, 4, 8):
            ss = SEQ // tp
            shards = [D.keep_mask(key(18, 3, t * ss, (t + 1) * ss), "layers.1.attn", HIDDEN) for t in range(tp)]
            self.assertTrue(torch.equal(torch.cat(shards, dim=1), whole[2:5]))

    def test_mask_at_context_parallel_positions(self):
        # Under CP a rank holds two chunks far apart (plan.cp_spans); its masks, put back at their real
        # positions, rebuild the whole sample's mask for every cp, alone and with SP splitting the part.
        whole = D.keep_mask(key(18, 3), "layers.2.mlp", HIDDEN)
        for cp in (2, 4):
            for tp in (1, 2):
                rebuilt = torch.zeros_like(whole)
                for c in range(cp):
                    part = cp_spans(cp, c, SEQ)
                    per = (SEQ // cp) // tp
                    for t in range(tp):
                        spans = sub_spans(part, t * per, (t + 1) * per)
                        mask = D.keep_mask(D.DropoutKey(0, 18, 3, SEQ, spans), "layers.2.mlp", HIDDEN)
                        self.assertEqual(mask.shape, (3, per, HIDDEN))
                        idx = torch.cat([torch.arange(a, b) for a, b in spans])
                        rebuilt[:, idx] = mask
                self.assertTrue(torch.equal(rebuilt, whole), f"cp {cp} tp {tp}")

    def test_masks_differ_by_site_sample_and_seed(self):
        base = D.keep_mask(key(0, 1), "layers.0.attn", HIDDEN)
        self.assertFalse(torch.equal(base, D.keep_mask(key(0, 1), "layers.0.mlp", HIDDEN)))
        self.assertFalse(torch.equal(base, D.keep_mask(key(0, 1), "layers.1.attn", HIDDEN)))
        self.assertFalse(torch.equal(base, D.keep_mask(key(1, 1), "layers.0.attn", HIDDEN)))
        self.assertFalse(torch.equal(base, D.keep_mask(key(0, 1, seed=1), "layers.0.attn", HIDDEN)))
        self.assertTrue(torch.equal(base, D.keep_mask(key(0, 1), "layers.0.attn", HIDDEN)))

    def test_keep_fraction(self):
        # n Bernoulli(1 − p) draws: the kept fraction has standard deviation sqrt(p(1 − p)/n); we allow 5σ
        # (two-sided probability of a false failure ~6e-7 per check).
        for p in (0.1, 0.5):
            mask = D.keep_mask(key(0, 64, p=p), "embed", 256)
            n = mask.numel()
            sigma = math.sqrt(p * (1 - p) / n)
            frac = mask.double().mean().item()
            self.assertLess(abs(frac - (1 - p)), 5 * sigma, f"p={p}: kept {frac}, n={n}, sigma={sigma}")
            # Per sample too (n/64 draws each, 5σ of that).
            per = mask.double().mean(dim=(1, 2))
            sigma1 = math.sqrt(p * (1 - p) / (n / 64))
            self.assertLess((per - (1 - p)).abs().max().item(), 5 * sigma1)

    def test_scaling_and_gradient(self):
        p = D.DROPOUT_P
        x = torch.full((4, SEQ, HIDDEN), 3.0, dtype=torch.float64, requires_grad=True)
        y = D.apply(x, key(0, 4), "layers.0.mlp")
        keep = D.keep_mask(key(0, 4), "layers.0.mlp", HIDDEN)
        self.assertTrue(torch.equal(y[~keep], torch.zeros_like(y[~keep])))
        torch.testing.assert_close(y[keep], torch.full_like(y[keep], 3.0 / (1 - p)), rtol=1e-15, atol=0)
        (g,) = torch.autograd.grad(y.sum(), x)
        torch.testing.assert_close(g, keep.double() / (1 - p), rtol=1e-15, atol=0)
        # Inverted dropout keeps the mean: E[y] = x (5σ of the per-element spread 3·sqrt(p/(1 − p))).
        n = y.numel()
        self.assertLess(abs(y.mean().item() - 3.0), 5 * 3.0 * math.sqrt(p / (1 - p)) / math.sqrt(n))
        # No key, no dropout.
        self.assertIs(D.apply(x, None, "embed"), x)

    def test_full_recompute_replays_the_masks(self):
        torch.manual_seed(0)
        cfg = parse_plan(make_plan(GPT, strategy(), global_batch=4, micro_batches=1), 1).model
        specs = M.layer_specs(cfg)
        params = {k: v.requires_grad_(True) for k, v in M.init_full(specs, cfg, 0, "layers.0").items()}
        ctx = M.LayerContext(cfg, SOLO, False, False, None, "layers.0")
        x0 = torch.randn(2, SEQ, cfg.hidden, dtype=torch.float64)
        k = key(6, 2)

        def grads(fn):
            x = x0.clone().requires_grad_(True)
            out = fn(x)
            out.pow(2).sum().backward()
            g = [x.grad.clone()] + [params[n].grad.clone() for n in sorted(params)]
            for t in params.values():
                t.grad = None
            return out.detach(), g

        plain, g_plain = grads(lambda x: M.layer_forward(x, params, ctx, k))
        # Disturb the global RNG between forward and the recomputation: masks must not depend on it.
        def checkpointed(x):
            out = recompute.full(lambda y: M.layer_forward(y, params, ctx, k), x)
            torch.rand(1000)
            return out

        again, g_again = grads(checkpointed)
        nodrop, _ = grads(lambda x: M.layer_forward(x, params, ctx, None))
        self.assertTrue(torch.equal(plain, again))
        for a, b in zip(g_plain, g_again):
            self.assertTrue(torch.equal(a, b))
        self.assertFalse(torch.allclose(plain, nodrop))


def run(raw, steps=2, world=1):
    plan = parse_plan(raw, world)
    cfg = RunConfig(precision("float64"), torch.device("cpu"), 0)
    ex = Executor(plan, 0, GroupCache(0, False), cfg, SyntheticData(plan.model.vocab, plan.seq, 0))
    return [ex.train_step(s) for s in range(steps)], ex.gather_parameters()


class OneRankExecutorTest(unittest.TestCase):
    def test_micro_batches_and_recompute_match_reference(self):
        raw = make_plan(GPT, strategy(), global_batch=4, micro_batches=1)
        raw["training"]["dropout"] = True
        plan = parse_plan(raw, 1)
        cfg = RunConfig(precision("float64"), torch.device("cpu"), 0)
        ref = Executor(reference_plan(plan), 0, GroupCache(0, False), cfg, SyntheticData(256, plan.seq, 0))
        ref_losses = [ref.train_step(s) for s in range(2)]
        ref_params = ref.gather_parameters()
        for micro, rc in ((4, "none"), (2, "full"), (4, "selective")):
            with self.subTest(micro_batches=micro, recompute=rc):
                r = make_plan(GPT, strategy(recompute=rc), global_batch=4, micro_batches=micro)
                r["training"]["dropout"] = True
                losses, params = run(r)
                for a, b in zip(losses, ref_losses):
                    self.assertLess(abs(a - b), 1e-12 * abs(b))
                for name, t in params.items():
                    err = (t - ref_params[name]).abs().max().item() / ref_params[name].abs().max().item()
                    self.assertLess(err, 1e-12, name)
        off = make_plan(GPT, strategy(), global_batch=4, micro_batches=1)
        off["training"]["dropout"] = False
        losses_off, _ = run(off)
        self.assertGreater(abs(losses_off[0] - ref_losses[0]), 1e-6)


if __name__ == "__main__":
    unittest.main()
