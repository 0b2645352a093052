"""Dynamic loss scaling (loss_scale.py): the scaler's state machine by hand, a skipped step leaving the
whole optimizer state bit-identical, fp16 on CPU, and train.py's flags, step reports and exact resume.

    cd python && ../.venv/bin/python -m unittest tests.test_loss_scaling
"""
import contextlib
import io
import json
import math
import os
import tempfile
import unittest

import torch

from galvatron_runtime.comm import GroupCache
from galvatron_runtime.data import SyntheticData
from galvatron_runtime.device import precision
from galvatron_runtime.executor import Executor, RunConfig
from galvatron_runtime.loss_scale import DynamicLossScaler, LossScaleConfig
from galvatron_runtime.optim import AdamConfig
from galvatron_runtime.plan import parse_plan, reference_plan

from .plan_matrix import GPT, make_plan, strategy


class ScalerStateMachineTest(unittest.TestCase):
    def test_defaults(self):
        s = DynamicLossScaler()
        self.assertEqual(s.scale, 65536.0)
        self.assertEqual(s.good_steps, 0)
        self.assertEqual(s.config.window, 1000)
        self.assertEqual(s.config.min_scale, 1.0)

    def test_overflow_halves_and_resets_the_counter(self):
        s = DynamicLossScaler(LossScaleConfig(initial_scale=1024.0, window=3))
        s.update(False)
        s.update(False)
        self.assertEqual((s.scale, s.good_steps), (1024.0, 2))
        s.update(True)
        self.assertEqual((s.scale, s.good_steps), (512.0, 0))
        s.update(True)
        self.assertEqual((s.scale, s.good_steps), (256.0, 0))

    def test_grows_after_window_good_steps_in_a_row(self):
        s = DynamicLossScaler(LossScaleConfig(initial_scale=8.0, window=3))
        seen = []
        for found in [False, False, True, False, False, False, False, False, False]:
            s.update(found)
            seen.append(s.scale)
        # the overflow at the 3rd step resets the count: growth after 3 more good steps, then 3 more
        self.assertEqual(seen, [8.0, 8.0, 4.0, 4.0, 4.0, 8.0, 8.0, 8.0, 16.0])
        self.assertEqual(s.good_steps, 0)

    def test_min_scale(self):
        s = DynamicLossScaler(LossScaleConfig(initial_scale=4.0, window=10, min_scale=1.0))
        for _ in range(5):
            s.update(True)
        self.assertEqual(s.scale, 1.0)
        s = DynamicLossScaler(LossScaleConfig(initial_scale=64.0, min_scale=16.0))
        for _ in range(5):
            s.update(True)
        self.assertEqual(s.scale, 16.0)

    def test_state_dict_round_trip(self):
        s = DynamicLossScaler(LossScaleConfig(initial_scale=32.0, window=5))
        for found in [False, True, False, False]:
            s.update(found)
        t = DynamicLossScaler(LossScaleConfig(initial_scale=32.0, window=5))
        t.load_state_dict(json.loads(json.dumps(s.state_dict())))
        self.assertEqual((t.scale, t.good_steps), (16.0, 2))


def executor(dtype="float64", loss_scale=LossScaleConfig(), inject=(), model=GPT, micro_batches=2):
    plan = parse_plan(make_plan(model, strategy(), global_batch=4, micro_batches=micro_batches), 1)
    cfg = RunConfig(
        precision(dtype),
        torch.device("cpu"),
        0,
        AdamConfig(lr=1e-3),
        loss_scale=loss_scale,
        inject_inf_steps=frozenset(inject),
    )
    return Executor(reference_plan(plan), 0, GroupCache(0, False), cfg, SyntheticData(model["vocab"], plan.seq, 0))


def assert_states_identical(test, a, b):
    test.assertEqual(sorted(a), sorted(b))
    for unit in a:
        test.assertEqual(sorted(a[unit]), sorted(b[unit]))
        for key, x in a[unit].items():
            if isinstance(x, torch.Tensor):
                test.assertTrue(torch.equal(x, b[unit][key]), f"{unit}.{key} changed")
            else:
                test.assertEqual(x, b[unit][key], f"{unit}.{key}")


class SkippedStepTest(unittest.TestCase):
    def test_skipped_step_changes_nothing_float64(self):
        ex = executor(inject=[1])
        ex.train_step(0)
        self.assertEqual(ex.last_step_info, {"lossScale": 65536.0, "skipped": False})
        before = ex.state_dict()
        loss = ex.train_step(1)
        self.assertTrue(math.isfinite(loss))  # the forward was fine: the loss is still reported
        self.assertEqual(ex.last_step_info, {"lossScale": 65536.0, "skipped": True})
        assert_states_identical(self, before, ex.state_dict())
        self.assertTrue(all(u.step == 1 for u in ex.units))  # Adam's step count did not advance
        self.assertEqual(ex.scaler.scale, 32768.0)
        ex.train_step(2)
        self.assertEqual(ex.last_step_info, {"lossScale": 32768.0, "skipped": False})
        self.assertTrue(all(u.step == 2 for u in ex.units))

    def test_skipped_step_changes_nothing_fp16(self):
        ex = executor("fp16", inject=[0])
        self.assertTrue(all(u.param.dtype == torch.float16 and u.master.dtype == torch.float32 for u in ex.units))
        before = ex.state_dict()
        ex.train_step(0)
        self.assertTrue(ex.last_step_info["skipped"])
        assert_states_identical(self, before, ex.state_dict())
        self.assertTrue(all(u.step == 0 for u in ex.units))

    def test_scaling_is_exact_in_float64(self):
        """S = 2^k scales every gradient exactly: the same steps as without loss scaling, to rounding."""
        plain = executor(loss_scale=None)
        scaled = executor()
        for k in range(3):
            self.assertAlmostEqual(plain.train_step(k), scaled.train_step(k), delta=1e-13)
        a, b = plain.gather_parameters(), scaled.gather_parameters()
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-12, atol=1e-15)

    def test_fp16_trains_on_cpu_close_to_float32(self):
        """fp16 weights/activations with fp32 masters follow the float32 run (loose: fp16 rounding)."""
        fp16 = executor("fp16")
        fp32 = executor("float32", loss_scale=None)
        for k in range(3):
            a, b = fp16.train_step(k), fp32.train_step(k)
            self.assertFalse(fp16.last_step_info["skipped"])
            self.assertLess(abs(a - b), 2e-2 * abs(b))

    def test_scale_too_large_overflows_then_backs_off(self):
        """A scale past fp16's range (65504) makes the scaled gradients inf: steps skip until it fits."""
        ex = executor("fp16", loss_scale=LossScaleConfig(initial_scale=2.0**40))
        skipped = []
        for k in range(40):
            ex.train_step(k)
            skipped.append(ex.last_step_info["skipped"])
            if not skipped[-1]:
                break
        self.assertTrue(skipped[0], "2^40 should overflow fp16 gradients")
        self.assertFalse(skipped[-1], f"never recovered: scale {ex.scaler.scale}")
        self.assertLess(ex.scaler.scale, 2.0**40)


class TrainEntryLossScaleTest(unittest.TestCase):
    def run_train(self, *args):
        from galvatron_runtime import train

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = train.main(list(args))
            except SystemExit as e:  # a refused flag or checkpoint: exit code 2
                code = e.code
        return code, [json.loads(l) for l in out.getvalue().splitlines()], err.getvalue()

    def setUp(self):
        self.env = {k: os.environ.pop(k) for k in ("WORLD_SIZE", "RANK") if k in os.environ}
        self.dir = tempfile.TemporaryDirectory()
        self.plan = os.path.join(self.dir.name, "plan.json")
        with open(self.plan, "w") as f:
            json.dump(make_plan(GPT, strategy(), global_batch=4, micro_batches=2), f)

    def tearDown(self):
        self.dir.cleanup()
        os.environ.update(self.env)

    def test_reports_skip_and_resumes_exactly(self):
        d = self.dir.name
        flags = ["--plan", self.plan, "--dtype", "float64", "--loss-scale", "dynamic", "--loss-scale-window", "2"]
        flags += ["--inject-inf-step", "1", "--lr", "1e-3"]
        code, events, err = self.run_train(*flags, "--steps", "6", "--checkpoint-dir", os.path.join(d, "a"))
        self.assertEqual(code, 0)
        steps = [e for e in events if e["event"] == "step"]
        self.assertEqual([e["skipped"] for e in steps], [False, True, False, False, False, False])
        # 2^16; overflow at step 1 halves; 2 good steps (2, 3) double it back; 2 more (4, 5) double again
        self.assertEqual([e["lossScale"] for e in steps], [65536.0, 65536.0, 32768.0, 32768.0, 65536.0, 65536.0])
        self.assertEqual(err.count("step skipped"), 1)
        self.assertIn("step 1: inf/NaN gradient", err)
        # interrupted after 3 steps (mid-window: good-step counter 1), resumed to 6
        b = os.path.join(d, "b")
        self.run_train(*flags, "--steps", "3", "--checkpoint-dir", b)
        code, more, _ = self.run_train(*flags, "--steps", "6", "--checkpoint-dir", b, "--resume")
        self.assertEqual(code, 0)
        resumed = [e for e in more if e["event"] == "step"]
        self.assertEqual([e["step"] for e in resumed], [3, 4, 5])
        for got, want in zip(resumed, steps[3:]):
            self.assertEqual((got["loss"], got["lossScale"], got["skipped"]), (want["loss"], want["lossScale"], want["skipped"]))

    def test_no_loss_scale_fields_without_scaling(self):
        code, events, _ = self.run_train("--plan", self.plan, "--dtype", "float64", "--steps", "1", "--lr", "1e-3")
        step = next(e for e in events if e["event"] == "step")
        self.assertNotIn("lossScale", step)
        self.assertNotIn("skipped", step)

    def test_resume_refuses_other_loss_scaling(self):
        ck = os.path.join(self.dir.name, "c")
        base = ["--plan", self.plan, "--dtype", "float64", "--lr", "1e-3", "--checkpoint-dir", ck]
        self.assertEqual(self.run_train(*base, "--steps", "1")[0], 0)
        code, _, err = self.run_train(*base, "--steps", "2", "--resume", "--loss-scale", "dynamic")
        self.assertEqual(code, 2)
        self.assertIn("lossScale", err)

    def test_bad_flags_exit_2_naming_the_flag(self):
        cases = [
            (["--inject-inf-step", "1"], "--inject-inf-step"),
            (["--loss-scale", "dynamic", "--initial-loss-scale", "0.5"], "--initial-loss-scale"),
            (["--loss-scale", "dynamic", "--loss-scale-window", "0"], "--loss-scale-window"),
            (["--loss-scale", "dynamic", "--min-loss-scale", "0"], "--min-loss-scale"),
            (["--loss-scale", "dynamic", "--inject-inf-rank", "3"], "--inject-inf-rank"),
        ]
        for extra, flag in cases:
            with self.subTest(flag=flag):
                code, _, err = self.run_train("--plan", self.plan, "--dtype", "float64", *extra)
                self.assertEqual(code, 2)
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertIn(flag, lines[0])


if __name__ == "__main__":
    unittest.main()
