"""The executor's rank layout against the golden file it shares with src/strategy/rank-layout.ts
(test/fixtures/rank-layout/golden.json; the executor runs no CP, so only cases with cp = 1)."""
import json
import pathlib
import unittest

from galvatron_runtime.plan import Layout

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "rank-layout" / "golden.json"


class RankLayoutGoldenTest(unittest.TestCase):
    def test_groups_match_the_golden_file(self):
        cases = [c for c in json.loads(GOLDEN.read_text())["cases"] if c["cp"] == 1]
        self.assertGreaterEqual(len(cases), 6)
        for c in cases:
            with self.subTest(case=c):
                n = c["tp"] * c["dp"]
                lay = Layout(tp=c["tp"], dp=c["dp"], sp=False, tp_consecutive=c["tpConsecutive"], n=n)
                self.assertEqual(sorted(lay.tp_group(d) for d in range(c["dp"])), sorted(c["tpGroups"]))
                self.assertEqual(sorted(lay.dp_group(t) for t in range(c["tp"])), sorted(c["dpGroups"]))


if __name__ == "__main__":
    unittest.main()
