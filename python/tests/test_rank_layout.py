"""The executor's rank layout against the golden file it shares with src/strategy/rank-layout.ts
(test/fixtures/rank-layout/golden.json): TP, CP, DP and gradient-sync (DP × CP) groups."""
import json
import pathlib
import unittest

from galvatron_runtime.plan import Layout

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "rank-layout" / "golden.json"


class RankLayoutGoldenTest(unittest.TestCase):
    def test_groups_match_the_golden_file(self):
        cases = json.loads(GOLDEN.read_text())["cases"]
        self.assertGreaterEqual(len([c for c in cases if c["cp"] > 1]), 2)
        for c in cases:
            with self.subTest(case=c):
                n = c["tp"] * c["cp"] * c["dp"]
                lay = Layout(tp=c["tp"], dp=c["dp"], sp=False, tp_consecutive=c["tpConsecutive"], n=n, cp=c["cp"])
                for kind, key in (("tp", "tpGroups"), ("cp", "cpGroups"), ("dp", "dpGroups"), ("sync", "syncGroups")):
                    self.assertEqual(sorted(lay.groups(kind)), sorted(c[key]), kind)


if __name__ == "__main__":
    unittest.main()
