"""Plan validation (refusals name the field) and the rank layout (src/strategy/rank-layout.ts)."""
import copy
import unittest

from galvatron_runtime.plan import Layout, PlanError, parse_plan

from .plan_matrix import GPT, LLAMA, make_plan, matrix, strategy


class LayoutTest(unittest.TestCase):
    def test_tp_consecutive(self):
        lay = Layout(tp=2, dp=4, sp=False, tp_consecutive=True, n=8)
        self.assertEqual([lay.coords(l) for l in range(8)], [(l % 2, l // 2) for l in range(8)])
        self.assertEqual(lay.tp_group(1), [2, 3])
        self.assertEqual(lay.dp_group(0), [0, 2, 4, 6])

    def test_dp_consecutive(self):
        lay = Layout(tp=2, dp=4, sp=False, tp_consecutive=False, n=8)
        self.assertEqual(lay.tp_group(1), [1, 5])
        self.assertEqual(lay.dp_group(0), [0, 1, 2, 3])

    def test_blocks(self):
        lay = Layout(tp=2, dp=2, sp=True, tp_consecutive=True, n=4)
        self.assertEqual(lay.blocks(4, 8), ((0, 2, 0, 4), (0, 2, 4, 8), (2, 4, 0, 4), (2, 4, 4, 8)))
        plain = Layout(tp=2, dp=2, sp=False, tp_consecutive=True, n=4)
        self.assertEqual(plain.block(3, 4, 8), (2, 4, 0, 8))


class PlanTest(unittest.TestCase):
    def refuse(self, raw, field, world=8):
        with self.assertRaises(PlanError) as cm:
            parse_plan(raw, world)
        self.assertEqual(cm.exception.field, field)
        return str(cm.exception)

    def test_matrix_is_valid(self):
        for name, raw in matrix().items():
            with self.subTest(plan=name):
                plan = parse_plan(raw, 8)
                self.assertEqual(plan.world, 8)

    def test_world_size(self):
        msg = self.refuse(make_plan(GPT, strategy(dp=8)), "plan.pipeline.degree", world=4)
        self.assertIn("WORLD_SIZE is 4", msg)

    def test_layer_count(self):
        raw = make_plan(GPT, strategy(dp=8))
        raw["layers"] = raw["layers"][:3]
        self.refuse(raw, "plan.layers")

    def test_tp_must_divide_heads_and_kv_heads(self):
        raw = make_plan(LLAMA, strategy(tp=8))
        self.assertIn("kvHeads", self.refuse(raw, "plan.layers[0].tp"))
        model = dict(GPT, heads=4, kvHeads=4, hidden=32)
        self.assertIn("heads", self.refuse(make_plan(model, strategy(tp=8)), "plan.layers[0].tp"))

    def test_degrees_must_fill_the_stage(self):
        raw = make_plan(GPT, strategy(dp=8))
        raw["layers"][2] = strategy(tp=2, dp=2)
        self.refuse(raw, "plan.layers[2]")

    def test_refusals(self):
        raw = make_plan(GPT, strategy(dp=8))
        bad = copy.deepcopy(raw)
        bad["layers"][1]["cp"] = 2
        bad["layers"][1]["dp"] = 4
        self.assertIn("context parallelism", self.refuse(bad, "plan.layers[1].cp"))
        bad = copy.deepcopy(raw)
        bad["model"]["family"] = "t5"
        self.refuse(bad, "plan.model.family")
        bad = copy.deepcopy(raw)
        bad["model"]["positional"] = "alibi"
        self.refuse(bad, "plan.model.positional")
        bad = make_plan(GPT, strategy(dp=8), global_batch=12, micro_batches=2)  # 6 samples over dp 8
        self.refuse(bad, "plan.layers[0].dp".replace("layers[0]", "embedding"))
        bad = make_plan(GPT, strategy(tp=8, sp=True), global_batch=8)
        bad["training"]["seqLen"] = 12
        self.refuse(bad, "plan.embedding.sequenceParallel")
        bad = make_plan(GPT, strategy(tp=2, dp=2), pp=2, schedule="interleaved-1f1b", virtual=2, micro_batches=3, global_batch=12)
        self.refuse(bad, "plan.training.microBatches")
        bad = make_plan(GPT, strategy(dp=8))
        bad["pipeline"]["chunks"] = [{"start": 0, "end": 3}]
        self.refuse(bad, "plan.pipeline.chunks")


if __name__ == "__main__":
    unittest.main()
