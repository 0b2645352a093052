"""The profiler (profiler.py) in one process: its one-layer plans are valid plans, and a whole job on a tiny
model reports times, memory and the machine (collectives and overlap need two ranks: the TS test runs
those under torchrun)."""
import contextlib
import io
import json
import os
import tempfile
import types
import unittest

import torch

from galvatron_runtime import profiler
from galvatron_runtime.plan import parse_plan

TINY = {
    "name": "tiny", "family": "gpt", "layers": 4, "hidden": 32, "heads": 4, "kvHeads": 4, "ffnHidden": 128,
    "ffnType": "gelu", "vocab": 64, "seqLen": 16, "tiedEmbeddings": True, "positional": "learned",
}


def job(**overrides) -> dict:
    base = {
        "model": TINY, "seqLen": 16, "device": "cpu", "dtype": "float64", "seed": 0, "microBatches": [1, 2],
        "layerVariants": [{"tp": 1, "sequenceParallel": False, "recompute": r} for r in ("none", "selective", "full")],
        "endVariants": [{"tp": 1, "sequenceParallel": False}], "warmup": 0, "repeats": 1,
        "collectives": {"kinds": ["all-reduce"], "groupSizes": [2], "sizes": [1024]}, "overlap": True,
    }
    base.update(overrides)
    return base


class ProfilerTest(unittest.TestCase):
    def run_job(self, spec: dict) -> list[dict]:
        """Runs a profiler job in this process, as one rank (torchrun's variables set aside); its events."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "job.json")
            with open(path, "w") as f:
                json.dump(spec, f)
            out = io.StringIO()
            env = {k: os.environ.pop(k) for k in ("WORLD_SIZE", "RANK") if k in os.environ}
            try:
                with contextlib.redirect_stdout(out):
                    self.assertEqual(profiler.main(["--job", path]), 0)
            finally:
                os.environ.update(env)
        return [json.loads(line) for line in out.getvalue().splitlines()]

    def test_one_layer_plan_is_a_valid_plan(self):
        raw = profiler.one_layer_plan(job(), 4, 2, True, "full", 4, False)
        plan = parse_plan(raw, 4)
        self.assertEqual(plan.model.layers, 1)
        self.assertEqual((plan.layers[0].layout.tp, plan.layers[0].layout.dp, plan.layers[0].recompute), (2, 2, "full"))
        self.assertTrue(plan.layers[0].layout.seq_split)
        self.assertEqual((plan.embedding.layout.tp, plan.embedding.layout.dp), (4, 1))
        self.assertEqual(profiler.group_blocks(4, 2), [(0, 1), (2, 3)])
        self.assertEqual(profiler.group_blocks(6, 4), [(0, 1, 2, 3)])

    def test_a_job_on_one_rank_reports_times_memory_and_machine(self):
        events = self.run_job(job())
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[0], "machine")
        self.assertEqual(kinds[-1], "end")
        self.assertEqual(events[0]["ranks"], 1)
        times = [e for e in events if e["event"] == "time"]
        # 3 layer variants and the embedding and head, each at micro-batches 1 and 2.
        self.assertEqual(len(times), 3 * 2 + 2 * 2)
        self.assertTrue(all(e["forwardS"] > 0 and e["backwardS"] > 0 for e in times))
        memory = {(e["unit"], e["recompute"]): e for e in events if e["event"] == "memory"}
        self.assertEqual(set(memory), {("layer", "none"), ("layer", "selective"), ("layer", "full"), ("embedding", "none"), ("head", "none")})
        # Full recompute keeps the layer input only: 2 samples × 16 tokens × 32 float64.
        self.assertEqual(memory[("layer", "full")]["activationBytes"], 2 * 16 * 32 * 8)
        self.assertGreater(memory[("layer", "none")]["activationBytes"], 4 * memory[("layer", "full")]["activationBytes"])
        self.assertGreater(memory[("layer", "none")]["modelStateBytes"], 0)
        # One rank: no collectives, no overlap; progress counted them out.
        self.assertNotIn("collective", kinds)
        self.assertNotIn("overlap", kinds)
        progress = [e for e in events if e["event"] == "progress"]
        self.assertEqual([p["done"] for p in progress], list(range(len(progress))))
        self.assertEqual(progress[0]["total"], len(progress))

    def test_sweeps_pool_their_runs_and_the_optimizer_step_is_timed(self):
        events = self.run_job(job(sweeps=2, repeats=2, optimizer=True, layerVariants=[{"tp": 1, "sequenceParallel": False, "recompute": "none"}]))
        # One time event per point whatever the sweeps; memory once per variant.
        times = [e for e in events if e["event"] == "time"]
        self.assertEqual(len(times), 1 * 2 + 2 * 2)
        self.assertEqual(len([e for e in events if e["event"] == "memory"]), 3)
        (opt,) = [e for e in events if e["event"] == "optimizer"]
        # The tiny layer: 4·32² + 2·32·128 weights plus biases and norms.
        self.assertGreater(opt["parameters"], 4 * 32 * 32 + 2 * 32 * 128)
        self.assertGreater(opt["stepS"], 0)
        progress = [e for e in events if e["event"] == "progress"]
        # 2 sweeps × (1 layer variant + the ends) × 2 micro-batches, and the optimizer.
        self.assertEqual(progress[0]["total"], 2 * 2 * 2 + 1)
        self.assertEqual(len(progress), progress[0]["total"])

    def test_a_window_runs_copies_back_to_back_and_reports_the_time_per_copy(self):
        fake = types.SimpleNamespace(job={"window": 8}, device=torch.device("cpu"))
        copies = lambda b: profiler.Profiler.copies(fake, b)  # noqa: E731
        self.assertEqual([copies(b) for b in (1, 2, 3, 8, 16)], [8, 4, 3, 1, 1])
        self.assertEqual(profiler.Profiler.copies(types.SimpleNamespace(job={}), 1), 1)
        # run_layer: 3 copies of a micro-batch of 3 (window 8), all forwards first, then their backwards.
        calls = []
        w = torch.ones(4, dtype=torch.float64, requires_grad=True)
        unit = types.SimpleNamespace(zero_grad=lambda: None)

        class Runner:
            def __init__(self):
                self.unit = unit

            def __call__(self, x):
                calls.append("F")
                return x * w

        fake.timed = lambda fn: profiler.Profiler.timed(fake, fn)
        fake.copies = copies
        x = torch.ones(3, 4, dtype=torch.float64, requires_grad=True)
        f, b = profiler.Profiler.run_layer(fake, Runner(), x, torch.ones(3, 4, dtype=torch.float64))
        self.assertEqual(calls, ["F"] * 3)
        # Every copy's backward ran: the weight's gradient is 3 copies × 3 samples of ones.
        self.assertTrue(torch.equal(w.grad, torch.full((4,), 9.0, dtype=torch.float64)))
        self.assertGreater(f, 0)
        self.assertGreater(b, 0)

    def test_a_bad_window_is_refused_naming_it(self):
        for bad in (0, -1, 1.5, "8", True, 4096):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "job.json")
                with open(path, "w") as f:
                    json.dump(job(window=bad), f)
                with self.assertRaisesRegex(profiler.SetupError, "window must be an integer"):
                    profiler.load_job(path)


if __name__ == "__main__":
    unittest.main()
