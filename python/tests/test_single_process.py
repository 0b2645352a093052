"""Single-process tests of the pieces (no process group): loss, attention, ZeRO-3 hooks, data, checkpoints,
and the train entry point on a one-rank plan."""
import contextlib
import io
import json
import math
import os
import tempfile
import unittest

import torch
import torch.nn.functional as F

from galvatron_runtime import checkpoint, zero
from galvatron_runtime.comm import Group, GroupCache
from galvatron_runtime.data import SyntheticData, TextFileData, batch
from galvatron_runtime.device import precision
from galvatron_runtime.executor import Executor, RunConfig
from galvatron_runtime.model import core_attention
from galvatron_runtime.plan import parse_plan, reference_plan
from galvatron_runtime.vocab_parallel import cross_entropy
from galvatron_runtime import memory
from galvatron_runtime import model as M

from .plan_matrix import BERT, GPT, LLAMA, make_plan, strategy

SOLO = Group((0,), None, 0)


class PiecesTest(unittest.TestCase):
    def test_cross_entropy_matches_torch(self):
        torch.manual_seed(0)
        logits = torch.randn(2, 5, 11, dtype=torch.float64, requires_grad=True)
        target = torch.randint(0, 11, (2, 5))
        ours = cross_entropy(logits.clone(), target, SOLO, 11)  # it consumes its input (in place)
        ref = F.cross_entropy(logits.view(-1, 11), target.view(-1), reduction="none").view(2, 5)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-14)
        g1 = torch.autograd.grad(ours.sum(), logits)[0]
        g2 = torch.autograd.grad(ref.sum(), logits)[0]
        torch.testing.assert_close(g1, g2, rtol=0, atol=1e-14)

    def test_gqa_attention_matches_explicit_softmax(self):
        torch.manual_seed(0)
        q = torch.randn(2, 4, 6, 8, dtype=torch.float64)
        k = torch.randn(2, 2, 6, 8, dtype=torch.float64)
        v = torch.randn(2, 2, 6, 8, dtype=torch.float64)
        out = core_attention(q, k, v, causal=True)
        kk, vv = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
        scores = q @ kk.transpose(-1, -2) / math.sqrt(8)
        scores = scores.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf"))
        torch.testing.assert_close(out, scores.softmax(-1) @ vv, rtol=0, atol=1e-12)

    def test_zero3_hooks_regather_and_free(self):
        torch.manual_seed(0)
        shard = torch.nn.Parameter(torch.randn(12, dtype=torch.float64))
        x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
        packers = []

        def run(hooks):
            full = zero.GatherFlat.apply(shard, SOLO, 12)
            if hooks:
                packers.append(zero.zero3_packer(full, shard, SOLO, 12))
            ctx = memory.saved_tensor_hooks(packers[-1:]) if hooks else contextlib.nullcontext()
            with ctx:
                w = full.view(3, 4)
                y = F.gelu(F.linear(x, w)).sum()
            return y

        y0 = run(False)
        g0 = torch.autograd.grad(y0, [shard, x])
        y1 = run(True)
        self.assertEqual(packers[0].pending, 1, "the weight saved for backward must be a marker")
        g1 = torch.autograd.grad(y1, [shard, x])
        self.assertTrue(packers[0].freed, "the re-gathered bucket must be freed after its last use")
        for a, b in zip(g0, g1):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


class LeanAutogradTest(unittest.TestCase):
    """The executor's own autograd functions (model.py) against plain autograd, in float64."""

    def test_rms_norm_matches_torch(self):
        torch.manual_seed(0)
        x = torch.randn(2, 5, 16, dtype=torch.float64, requires_grad=True)
        w = torch.randn(16, dtype=torch.float64, requires_grad=True)
        ours = M._RMSNorm.apply(x, w, 1e-5)
        ref = F.rms_norm(x, (16,), w, eps=1e-5)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-13)
        self.assertTrue(torch.autograd.gradcheck(lambda a, b: M._RMSNorm.apply(a, b, 1e-5), (x, w)))

    def test_swiglu_matches_torch(self):
        torch.manual_seed(0)
        a = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
        b = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
        torch.testing.assert_close(M._SwiGLU.apply(a, b), F.silu(a) * b, rtol=0, atol=1e-14)
        self.assertTrue(torch.autograd.gradcheck(M._SwiGLU.apply, (a, b)))

    def test_heads_linear_matches_merge_then_linear(self):
        torch.manual_seed(0)
        o = torch.randn(2, 4, 5, 3, dtype=torch.float64, requires_grad=True)
        w = torch.randn(6, 12, dtype=torch.float64, requires_grad=True)
        ref = F.linear(o.transpose(1, 2).reshape(2, 5, 12), w)
        torch.testing.assert_close(M._HeadsLinear.apply(o, w), ref, rtol=0, atol=1e-14)
        self.assertTrue(torch.autograd.gradcheck(M._HeadsLinear.apply, (o, w)))

    def test_saved_activations_are_counted_once_per_storage(self):
        acc = memory.Accountant()
        memory.install(acc)
        try:
            x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
            w = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
            acc.exclude([w])
            with memory.scope("a", micro=0), memory.saved_tensor_hooks():
                y = F.linear(x, w)  # saves x (and w, excluded)
                z = (y * y).sum()  # saves y twice: one storage
        finally:
            memory.install(None)
        self.assertEqual(acc.activation_bytes(0), {"a": (4 * 8 + 4 * 8) * 8})
        self.assertEqual(acc.peak_live_bytes, (4 * 8 + 4 * 8) * 8)
        z.backward()
        del y, z
        self.assertEqual(acc.live_bytes, 4 * 8 * 8)  # x: still referenced here
        del x
        self.assertEqual(acc.live_bytes, 0)


class DataTest(unittest.TestCase):
    def test_synthetic_is_a_function_of_seed_and_index(self):
        a, b = SyntheticData(256, 16, 3), SyntheticData(256, 16, 3)
        self.assertTrue(torch.equal(a.sample(41), b.sample(41)))
        self.assertFalse(torch.equal(a.sample(41), a.sample(42)))
        x, y = batch(a, 2, 8, 3, 2)  # step 2 of global batch 8: samples 19 and 20
        self.assertTrue(torch.equal(x[0], a.sample(19)[:-1]))
        self.assertTrue(torch.equal(y[1], a.sample(20)[1:]))

    def test_text_file_windows(self):
        with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
            f.write(b"the quick brown fox jumps over the lazy dog " * 10)
        try:
            d = TextFileData(f.name, 256, 16, 0)
            s = d.sample(5)
            self.assertEqual(len(s), 17)
            with open(f.name) as g:
                self.assertIn(bytes(s.tolist()).decode(), g.read())
        finally:
            os.unlink(f.name)


def reference_executor(model, seed=0):
    plan = parse_plan(make_plan(model, strategy(), global_batch=4, micro_batches=1), 1)
    cfg = RunConfig(precision("float64"), torch.device("cpu"), seed)
    return Executor(reference_plan(plan), 0, GroupCache(0, False), cfg, SyntheticData(model["vocab"], plan.seq, seed))


class ReferenceTest(unittest.TestCase):
    def test_initial_loss_near_log_vocab(self):
        for model in (GPT, LLAMA, BERT):
            with self.subTest(model=model["name"]):
                loss = reference_executor(model).train_step(0)
                self.assertLess(abs(loss - math.log(model["vocab"])), 0.1)

    def test_same_seed_same_parameters(self):
        a = reference_executor(LLAMA).gather_parameters()
        b = reference_executor(LLAMA).gather_parameters()
        c = reference_executor(LLAMA, seed=1).gather_parameters()
        self.assertTrue(all(torch.equal(a[k], b[k]) for k in a))
        self.assertFalse(torch.equal(a["layers.0.attn.wq"], c["layers.0.attn.wq"]))


class CheckpointTest(unittest.TestCase):
    def test_atomic_latest(self):
        with tempfile.TemporaryDirectory() as d:
            solo = checkpoint.Coordinator(0, 1, 10.0)
            checkpoint.save(d, 2, 0, 1, {"x": torch.ones(2)}, {"worldSize": 1, "plan": "p"}, solo)
            os.makedirs(os.path.join(d, ".tmp-step-00000004"))  # an interrupted save
            path = checkpoint.latest(d)
            self.assertTrue(path.endswith("step-00000002"))
            self.assertTrue(torch.equal(checkpoint.load_rank(path, 0)["x"], torch.ones(2)))
            checkpoint.save(d, 4, 0, 1, {"x": torch.zeros(2)}, {"worldSize": 1, "plan": "p"}, solo)
            self.assertTrue(checkpoint.latest(d).endswith("step-00000004"))
            self.assertFalse(os.path.exists(os.path.join(d, ".tmp-step-00000004")))


class TrainEntryTest(unittest.TestCase):
    def run_train(self, *args):
        from galvatron_runtime import train

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = train.main(list(args))
        return code, [json.loads(l) for l in out.getvalue().splitlines()]

    def test_one_rank_run_and_resume(self):
        env = {k: os.environ.pop(k) for k in ("WORLD_SIZE", "RANK") if k in os.environ}
        try:
            with tempfile.TemporaryDirectory() as d:
                plan = os.path.join(d, "plan.json")
                with open(plan, "w") as f:
                    json.dump(make_plan(GPT, strategy(), global_batch=4, micro_batches=2), f)
                common = ["--plan", plan, "--dtype", "float64", "--checkpoint-dir", os.path.join(d, "ck")]
                code, full = self.run_train(*common, "--steps", "4", "--checkpoint-every", "2")
                self.assertEqual(code, 0)
                self.assertEqual([e["event"] for e in full], ["start"] + ["step"] * 4 + ["memory", "end"])
                self.assertEqual(full[2]["checkpoint"], os.path.join(d, "ck", "step-00000002"))
                for e in full[1:5]:
                    self.assertEqual(set(e) - {"checkpoint"}, {"event", "rank", "step", "loss", "stepTimeS", "peakMemoryBytes"})
                # resume from step 4 checkpoint up to 6, compare with an uninterrupted 6-step run
                code, more = self.run_train(*common, "--steps", "6", "--resume")
                self.assertEqual(more[0]["startStep"], 4)
                common2 = ["--plan", plan, "--dtype", "float64", "--checkpoint-dir", os.path.join(d, "ck2")]
                code, straight = self.run_train(*common2, "--steps", "6")
                want = [e["loss"] for e in straight if e["event"] == "step"][4:]
                got = [e["loss"] for e in more if e["event"] == "step"]
                self.assertEqual(want, got)
        finally:
            os.environ.update(env)

    def test_bad_plan_exits_2(self):
        with tempfile.TemporaryDirectory() as d:
            plan = os.path.join(d, "plan.json")
            with open(plan, "w") as f:
                json.dump(make_plan(GPT, strategy(dp=8)), f)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as cm:
                self.run_train("--plan", plan)
            self.assertEqual(cm.exception.code, 2)
            self.assertIn("plan.pipeline.degree", err.getvalue())


if __name__ == "__main__":
    unittest.main()
