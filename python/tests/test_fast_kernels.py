"""--fast-kernels (kernels.py): the fused and compiled paths compute what the written-out path computes.

Single process, float64 on CPU, the same plan and data under each mode: losses and every parameter after
three steps equal the "off" path's to 1e-10 relative (rounding differs, the formulas do not), the fused
and compiled functions are really the ones called, the compiled layer keeps the bytes the eager one keeps
for backward, and 16-bit weights are cast once per step (the update), not per micro-batch.
The compile tests need torch.compile to run on CPU (Inductor needs a C++ compiler); they are skipped
with the reason when it cannot. The first compile takes about a minute on a 2-core machine.
"""
import contextlib
import io
import unittest
from unittest import mock

import torch
import torch.nn.functional as F

from galvatron_runtime import kernels
from galvatron_runtime.comm import Group, GroupCache
from galvatron_runtime.data import SyntheticData
from galvatron_runtime.data_parallel import Unit, optimizer_step
from galvatron_runtime.device import precision
from galvatron_runtime.equivalence import rel_error
from galvatron_runtime.executor import Executor, RunConfig
from galvatron_runtime.model import init_full, layer_specs
from galvatron_runtime.optim import AdamConfig
from galvatron_runtime.plan import parse_plan

from .plan_matrix import BERT, GPT, LLAMA, make_plan, strategy

SOLO = Group((0,), None, 0)
STEPS = 3
# Every recompute mode (and so the checkpoint replay of the compiled parts), two micro-batches.
LAYERS = [strategy(), strategy(recompute="selective"), strategy(recompute="full"), strategy(dp_type="zero3")]


def executor(model, mode: str) -> Executor:
    plan = parse_plan(make_plan(model, LAYERS, global_batch=4, micro_batches=2), 1)
    cfg = RunConfig(precision("float64"), torch.device("cpu"), 0, AdamConfig(lr=1e-2), kernels=mode)
    return Executor(plan, 0, GroupCache(0, False), cfg, SyntheticData(model["vocab"], plan.seq, 0))


def train(model, mode: str) -> tuple[list[float], dict[str, torch.Tensor]]:
    ex = executor(model, mode)
    losses = [ex.train_step(k) for k in range(STEPS)]
    return losses, ex.gather_parameters()


def worst(a: dict, b: dict) -> float:
    return max(rel_error(a[name], b[name]) for name in b)


class ModesTest(unittest.TestCase):
    def test_resolve(self):
        self.assertEqual(kernels.resolve("auto", "cuda"), "on")
        self.assertEqual(kernels.resolve("auto", "cpu"), "off")
        self.assertEqual(kernels.resolve("fused", "cpu"), "fused")
        with self.assertRaisesRegex(ValueError, "--fast-kernels fast"):
            kernels.resolve("fast", "cuda")

    def test_on_without_compiler_falls_back_to_fused_with_one_warning(self):
        saved = dict(kernels._compile_problem)
        kernels._compile_problem["cpu"] = "InvalidCxxCompiler: no working C++ compiler found"
        try:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(kernels.usable("on", torch.device("cpu")), "fused")
                self.assertEqual(kernels.usable("off", torch.device("cpu")), "off")
            lines = err.getvalue().splitlines()
            self.assertEqual(len(lines), 1)
            self.assertIn("InvalidCxxCompiler", lines[0])
        finally:
            kernels._compile_problem.clear()
            kernels._compile_problem.update(saved)

    def test_step_restores_the_mode(self):
        ex = executor(GPT, "fused")
        ex.train_step(0)
        self.assertEqual(kernels.mode(), "off")


class FusedTest(unittest.TestCase):
    def test_fused_equals_off(self):
        for model in (GPT, LLAMA, BERT):
            with self.subTest(model=model["name"]):
                ref_losses, ref_params = train(model, "off")
                with mock.patch.object(torch, "_fused_adam_", wraps=torch._fused_adam_) as adam, mock.patch.object(
                    F, "rms_norm", wraps=F.rms_norm
                ) as rms:
                    losses, params = train(model, "fused")
                self.assertEqual(adam.call_count, STEPS)  # one call per step: every unit is float64 on CPU
                # LLaMA: 2 norms per layer + the final one, forward of 2 micro-batches (+ the full
                # recompute's replay of layer 2): the written-out _RMSNorm is not used.
                self.assertEqual(rms.call_count, STEPS * 2 * (2 * 4 + 1 + 2) if model is LLAMA else 0)
                self.assertLess(max(abs(a - b) / abs(b) for a, b in zip(losses, ref_losses)), 1e-10)
                self.assertLess(worst(params, ref_params), 1e-10)
                self.assertGreater(worst(params, ref_params), 0.0)  # another rounding: the path did change
                self.assertGreater(abs(losses[-1] - losses[0]), 1e-3)  # and it trains

    def test_fused_adam_equals_written_out_adam_on_bf16_masters(self):
        """With fp32 masters (bf16 working copy): the fused update of the master and the copy into the
        16-bit weights once per step, as the written-out path does."""

        def unit():
            specs = layer_specs(parse_plan(make_plan(LLAMA, strategy()), 1).model)
            full = init_full(specs, parse_plan(make_plan(LLAMA, strategy()), 1).model, 0, "layers.0")
            return Unit("layers.0", specs, full, tp_group=SOLO, dp_group=SOLO, dp_type="zero1", sp=False,
                        device=torch.device("cpu"), dtype=torch.bfloat16, master_dtype=torch.float32)

        units = {}
        for mode in ("off", "fused"):
            u = unit()
            gen = torch.Generator().manual_seed(1)
            with kernels.active(mode):
                for _ in range(2):
                    u._grad = (torch.randn(u.param.numel(), generator=gen) * 1e-2).to(torch.bfloat16)
                    optimizer_step([u], 0.5, AdamConfig(lr=1e-3))
            units[mode] = u
        off, fused = units["off"], units["fused"]
        self.assertEqual(fused.step, 2)
        self.assertLess(rel_error(fused.master, off.master), 1e-6)
        self.assertLess(rel_error(fused.exp_avg_sq, off.exp_avg_sq), 1e-6)
        self.assertTrue(torch.equal(fused.param.data, fused.master.to(torch.bfloat16)))


class WeightCopiesTest(unittest.TestCase):
    def test_16_bit_weights_are_views_of_the_bucket_in_every_micro_batch(self):
        """Forward reads the bf16 working copy in place: no cast per micro-batch (the one cast per step
        is _finish_update's copy from the fp32 master)."""
        cfg = parse_plan(make_plan(GPT, strategy()), 1).model
        specs = layer_specs(cfg)
        u = Unit("layers.0", specs, init_full(specs, cfg, 0, "layers.0"), tp_group=SOLO, dp_group=SOLO,
                 dp_type="ddp", sp=False, device=torch.device("cpu"), dtype=torch.bfloat16,
                 master_dtype=torch.float32)
        bucket = u.param.untyped_storage().data_ptr()
        for _ in range(2):  # two micro-batches
            params, packer = u.materialize()
            self.assertIsNone(packer)
            for name, t in params.items():
                self.assertEqual(t.dtype, torch.bfloat16, name)
                self.assertEqual(t.untyped_storage().data_ptr(), bucket, name)


class CompiledTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problem = kernels.compile_problem("cpu")  # probed here, not at import: it compiles (seconds)
        if problem is not None:
            raise unittest.SkipTest(f"torch.compile cannot run on this CPU: {problem}")

    def test_compiled_equals_off(self):
        for model in (LLAMA, GPT):
            with self.subTest(model=model["name"]):
                ref_losses, ref_params = train(model, "off")
                names = ("compiled_rms_norm", "compiled_rope_qk", "compiled_swiglu", "compiled_bias_residual")
                with contextlib.ExitStack() as stack:
                    spies = {n: stack.enter_context(mock.patch.object(kernels, n, wraps=getattr(kernels, n))) for n in names}
                    losses, params = train(model, "on")
                # Forward calls per step: 2 micro-batches × (4 layers + layer 2's full-recompute replay).
                per_step = 2 * (4 + 1)
                if model is LLAMA:
                    want = {"compiled_rms_norm": STEPS * (2 * per_step + 2), "compiled_rope_qk": STEPS * per_step,
                            "compiled_swiglu": STEPS * per_step, "compiled_bias_residual": 0}
                else:
                    # The replay of layer 2 stops after its last saved tensor (checkpoint's early stop),
                    # before its second bias + residual add, which saves nothing.
                    want = {"compiled_rms_norm": 0, "compiled_rope_qk": 0, "compiled_swiglu": 0,
                            "compiled_bias_residual": STEPS * 2 * (2 * 4 + 1)}
                self.assertEqual({n: s.call_count for n, s in spies.items()}, want)
                self.assertLess(max(abs(a - b) / abs(b) for a, b in zip(losses, ref_losses)), 1e-10)
                self.assertLess(worst(params, ref_params), 1e-10)

    def test_compiled_layers_keep_what_eager_layers_keep(self):
        """The bytes saved for backward per unit (memory.py) are the eager path's, so the cost model's
        activation memory still holds with compiling on."""
        for model in (LLAMA, GPT):
            with self.subTest(model=model["name"]):
                reports = {}
                for mode in ("off", "on"):
                    _, reports[mode] = executor(model, mode).train_step_accounted(0)
                per_unit = {m: {k: v["activationBytes"] for k, v in r["units"].items()} for m, r in reports.items()}
                self.assertEqual(per_unit["on"], per_unit["off"])
                self.assertGreater(reports["on"]["activationBytes"], 0)


if __name__ == "__main__":
    unittest.main()
