"""The shared validator table (test/fixtures/plan-validation): the Python side must accept the good plans
and refuse each bad one naming its field, as test/plan/validator-table.test.ts requires of the Node side."""
import copy
import json
import pathlib
import re
import unittest

from galvatron_runtime.plan import PlanError, parse_plan

TABLE = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "plan-validation"


def _keys(path):
    keys = []
    for part in path.split("."):
        name, *indices = part.split("[")
        if name:
            keys.append(name)
        keys.extend(int(i[:-1]) for i in indices)
    return keys


def patched(base, patch):
    plan = copy.deepcopy(base)
    for path, value in (patch or {}).items():
        keys = _keys(path)
        parent = plan
        for key in keys[:-1]:
            parent = parent[key]
        last = keys[-1]
        parent[last] = parent[last][:-1] if value == "$drop-last" else copy.deepcopy(value)
    return plan


class PlanTableTest(unittest.TestCase):
    def setUp(self):
        self.base = json.loads((TABLE / "base-plan.json").read_text())
        self.table = json.loads((TABLE / "cases.json").read_text())

    def test_good_plans_are_accepted(self):
        for case in self.table["good"]:
            with self.subTest(case=case["name"]):
                parse_plan(patched(self.base, case.get("patch")), case.get("world", 8))

    def test_bad_plans_are_refused_naming_the_field(self):
        for case in self.table["bad"]:
            with self.subTest(case=case["name"]):
                with self.assertRaises(PlanError) as cm:
                    parse_plan(patched(self.base, case.get("patch")), case.get("world", 8))
                self.assertEqual(cm.exception.field, case["field"], str(cm.exception))


if __name__ == "__main__":
    unittest.main()
