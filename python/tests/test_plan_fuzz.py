"""Generated bad plans for the executor's plan reader (issue 15): a seeded generator sets one field of the
shared base plan (test/fixtures/plan-validation/base-plan.json) to a value no field of its kind accepts,
and parse_plan must refuse it with a PlanError naming exactly that field. 4,000 cases, the seed printed on
failure; the Node side runs the same contract over the CLI (test/cli/fuzz.test.ts)."""
from __future__ import annotations

import gzip
import json
import math
import os
import random
import tempfile
import unittest

from galvatron_runtime.plan import LIMITS, PlanError, load_plan_json, parse_plan

from .test_plan_table import TABLE, patched

CASES = 4000
SEED = 20261201

WRONG_TYPE = ["8", "", None, [], {}, [1], True, False]


def bad_value(kind: str, rng: random.Random, limit: int | None):
    """A value no field of ``kind`` accepts (wrong type, out of range, not whole, past the limit)."""
    if kind == "posInt":
        choices = WRONG_TYPE + [0, -1, 0.5, 1.5, -rng.randint(1, 10**9), rng.uniform(0.01, 1e6) + 0.5, math.inf, math.nan]
        if limit is not None:
            choices += [limit + 1, limit + rng.randint(1, 10**12)]
        return rng.choice(choices)
    if kind == "enum":
        return rng.choice(["", "GPT", "unknown", "constructor", "__proto__", 0, True, None, "x" + str(rng.random())])
    if kind == "bool":
        return rng.choice(["true", "false", 0, 1, None, "yes", []])
    raise AssertionError(kind)


FIELDS = [
    ("training.globalBatch", "posInt"),
    ("training.microBatches", "posInt"),
    ("training.seqLen", "posInt"),
    ("training.precision", "enum"),
    ("pipeline.degree", "posInt"),
    ("pipeline.schedule", "enum"),
    ("pipeline.virtualStages", "posInt"),
    ("model.layers", "posInt"),
    ("model.hidden", "posInt"),
    ("model.heads", "posInt"),
    ("model.kvHeads", "posInt"),
    ("model.ffnHidden", "posInt"),
    ("model.vocab", "posInt"),
    ("model.seqLen", "posInt"),
    ("model.family", "enum"),
    ("model.ffnType", "enum"),
    ("model.positional", "enum"),
    ("model.tiedEmbeddings", "bool"),
    ("embedding.tp", "posInt"),
    ("embedding.dp", "posInt"),
    ("embedding.dpType", "enum"),
    ("layers[0].tp", "posInt"),
    ("layers[1].dp", "posInt"),
    ("layers[2].dpType", "enum"),
    ("layers[3].recompute", "enum"),
    ("layers[3].sequenceParallel", "bool"),
]


class GeneratedBadPlans(unittest.TestCase):
    def test_each_bad_field_is_refused_naming_it(self):
        base = json.loads((TABLE / "base-plan.json").read_text())
        rng = random.Random(SEED)
        for i in range(CASES):
            path, kind = rng.choice(FIELDS)
            key = path.split(".")[-1]
            value = bad_value(kind, rng, LIMITS.get(key) if kind == "posInt" else None)
            plan = patched(base, {path: value})
            with self.subTest(case=i, field=path, value=repr(value)):
                with self.assertRaises(PlanError, msg=f"seed {SEED}, case {i}: {path} = {value!r} accepted") as cm:
                    parse_plan(plan, 8)
                self.assertEqual(cm.exception.field, f"plan.{path}", f"seed {SEED}, case {i}: {path} = {value!r}: {cm.exception}")


class UnreadablePlanFiles(unittest.TestCase):
    """Files that printed a traceback from `python -m galvatron_runtime.validate` (issue 15): each is now a
    PlanError naming --plan."""

    def test_each_is_refused_naming_the_flag(self):
        with tempfile.TemporaryDirectory() as d:
            def path(name: str) -> str:
                return os.path.join(d, name)

            with open(path("binary.json"), "wb") as f:
                f.write(bytes(range(256)))
            with open(path("gzip.json"), "wb") as f:
                f.write(gzip.compress(b'{"format": "galvatron.plan/v1"}'))
            with open(path("utf16.json"), "wb") as f:
                f.write('{"format": "galvatron.plan/v1"}'.encode("utf-16"))
            with open(path("deep.json"), "w") as f:
                f.write("[" * 100000 + "]" * 100000)
            os.mkdir(path("directory.json"))
            os.symlink(path("loop-b"), path("loop-a"))
            os.symlink(path("loop-a"), path("loop-b"))
            for name, words in [
                ("binary.json", "not UTF-8"),
                ("gzip.json", "not UTF-8"),
                ("utf16.json", "not UTF-8"),
                ("deep.json", "nests too deeply"),
                ("directory.json", "is a directory"),
                ("loop-a", "cannot read"),
                ("missing.json", "file not found"),
            ]:
                with self.subTest(file=name):
                    with self.assertRaises(PlanError) as cm:
                        load_plan_json(path(name))
                    self.assertEqual(cm.exception.field, "--plan")
                    self.assertIn(words, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
