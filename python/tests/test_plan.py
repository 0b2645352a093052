"""Plan validation (refusals name the field) and the rank layout (src/strategy/rank-layout.ts)."""
import copy
import unittest

from galvatron_runtime.plan import Layout, PlanError, cp_spans, parse_plan, sub_spans

from .plan_matrix import GPT, LLAMA, make_plan, matrix, strategy


class LayoutTest(unittest.TestCase):
    def test_tp_consecutive(self):
        lay = Layout(tp=2, dp=4, sp=False, tp_consecutive=True, n=8)
        self.assertEqual([lay.coords(l) for l in range(8)], [(l % 2, l // 2) for l in range(8)])
        self.assertEqual(lay.tp_group_of(3), [2, 3])
        self.assertEqual(lay.dp_group_of(4), [0, 2, 4, 6])
        self.assertEqual(lay.sync_group_of(4), [0, 2, 4, 6])  # cp = 1: the DP group

    def test_dp_consecutive(self):
        lay = Layout(tp=2, dp=4, sp=False, tp_consecutive=False, n=8)
        self.assertEqual(lay.tp_group_of(5), [1, 5])
        self.assertEqual(lay.dp_group_of(2), [0, 1, 2, 3])

    def test_cp_groups(self):
        # tp 2 × cp 2 × dp 2, TP adjacent (the golden file's case): CP on stride 2, DP on stride 4; the
        # gradient-sync group is every rank with the same TP coordinate.
        lay = Layout(tp=2, dp=2, sp=False, tp_consecutive=True, n=8, cp=2)
        self.assertEqual(lay.cp_group_of(5), [5, 7])
        self.assertEqual(lay.dp_group_of(5), [1, 5])
        self.assertEqual(lay.sync_group_of(5), [1, 3, 5, 7])

    def test_blocks(self):
        lay = Layout(tp=2, dp=2, sp=True, tp_consecutive=True, n=4)
        self.assertEqual(
            lay.blocks(4, 8),
            ((0, 2, ((0, 4),)), (0, 2, ((4, 8),)), (2, 4, ((0, 4),)), (2, 4, ((4, 8),))),
        )
        plain = Layout(tp=2, dp=2, sp=False, tp_consecutive=True, n=4)
        self.assertEqual(plain.block(3, 4, 8), (2, 4, ((0, 8),)))

    def test_cp_load_balanced_chunks(self):
        # cp 2 on 16 tokens: 4 chunks of 4; CP rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
        self.assertEqual(cp_spans(2, 0, 16), ((0, 4), (12, 16)))
        self.assertEqual(cp_spans(2, 1, 16), ((4, 8), (8, 12)))
        self.assertEqual(cp_spans(1, 0, 16), ((0, 16),))
        # tp 2 × cp 2 × dp 2, TP adjacent: local 2 is (tp 0, cp 1, dp 0); local 5 is (tp 1, cp 0, dp 1).
        lay = Layout(tp=2, dp=2, sp=False, tp_consecutive=True, n=8, cp=2)
        self.assertEqual(lay.grid(2), (0, 1, 0))
        self.assertEqual(lay.grid(5), (1, 0, 1))
        self.assertEqual(lay.block(2, 4, 16), (0, 2, ((4, 8), (8, 12))))
        self.assertEqual(lay.block(5, 4, 16), (2, 4, ((0, 4), (12, 16))))
        # With SP the two TP ranks split the CP part (in its order): with cp 4 one chunk each, or less.
        sp = Layout(tp=2, dp=1, sp=True, tp_consecutive=True, n=8, cp=4)
        self.assertEqual(sp.block(0, 1, 32), (0, 1, ((0, 4),)))
        self.assertEqual(sp.block(1, 1, 32), (0, 1, ((28, 32),)))
        sp4 = Layout(tp=4, dp=1, sp=True, tp_consecutive=True, n=8, cp=2)
        self.assertEqual([sp4.block(l, 1, 16)[2] for l in range(4)], [((0, 2),), ((2, 4),), ((12, 14),), ((14, 16),)])
        self.assertEqual([sp4.block(l, 1, 16)[2] for l in range(4, 8)], [((4, 6),), ((6, 8),), ((8, 10),), ((10, 12),)])
        # Every position is held exactly once per (sample, TP replica) over a layout's blocks.
        for lay in (lay, sp, sp4, Layout(tp=2, dp=2, sp=True, tp_consecutive=False, n=8, cp=2)):
            held = sorted(p for b0, _, spans in lay.blocks(4, 32) if b0 == 0 for a, b in spans for p in range(a, b))
            self.assertEqual(held, sorted(list(range(32)) * (1 if lay.seq_split else lay.tp)))

    def test_cp_spans_for_sp_sub_ranges(self):
        self.assertEqual(sub_spans(((0, 4), (12, 16)), 2, 6), ((2, 4), (12, 14)))
        self.assertEqual(sub_spans(((0, 4), (12, 16)), 4, 8), ((12, 16),))


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
        good = copy.deepcopy(raw)
        good["layers"][1]["cp"] = 2
        good["layers"][1]["dp"] = 4
        self.assertEqual(parse_plan(good, 8).layers[1].layout.cp, 2)
        bad = copy.deepcopy(good)
        bad["layers"][1]["cp"] = 4
        bad["layers"][1]["dp"] = 2
        bad["training"]["seqLen"] = 12  # does not split in 2·cp = 8 chunks
        self.assertIn("2·cp", self.refuse(bad, "plan.layers[1].cp"))
        bad = make_plan(GPT, strategy(tp=4, dp=1, sp=True), global_batch=8)
        for s in [bad["embedding"]] + bad["layers"]:
            s["cp"] = 2
        bad["training"]["seqLen"] = 12  # 6 tokens per CP rank do not split over tp 4
        self.refuse(bad, "plan.embedding.sequenceParallel")
        bad = copy.deepcopy(raw)
        bad["model"]["family"] = "mamba"  # every family the planner prices runs; others are refused
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
