"""Multi-process checks under torchrun (opt-in: GALVATRON_DIST_TESTS=1, ~2 minutes on 2 CPU cores).

The node tests of the TypeScript side drive the same entry points; these are here for working on the
executor alone:  GALVATRON_DIST_TESTS=1 .venv/bin/python -m unittest discover -s python/tests -t python
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from .plan_matrix import matrix

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = os.path.join(ROOT, ".venv", "bin", "python")


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.path.join(ROOT, "python")
    return e


@unittest.skipUnless(os.environ.get("GALVATRON_DIST_TESTS") == "1", "set GALVATRON_DIST_TESTS=1")
class DistributedTest(unittest.TestCase):
    def test_equivalence_matrix(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, plan in matrix().items():
                paths.append(os.path.join(d, f"{name}.json"))
                with open(paths[-1], "w") as f:
                    json.dump(plan, f)
            cmd = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "8",
                   "-m", "galvatron_runtime.equivalence", "--plans", *paths, "--steps", "3"]
            p = subprocess.run(cmd, env=env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr[-3000:])
            lines = [json.loads(l) for l in p.stdout.splitlines()]
            self.assertEqual(len(lines), len(paths))
            for ev in lines:
                with self.subTest(plan=os.path.basename(ev["plan"])):
                    self.assertLessEqual(ev["maxLossRelError"], 1e-10)
                    self.assertLessEqual(ev["maxParamRelError"], 1e-10)

    def test_kill_and_resume(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "plan.json")
            with open(path, "w") as f:
                json.dump(matrix()["gpt-pp2-hetero-tied"], f)
            p = subprocess.run([sys.executable, os.path.join(ROOT, "python", "tests", "resume_check.py"), path],
                               env=env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr[-2000:])
            self.assertTrue(json.loads(p.stdout)["identical"])


if __name__ == "__main__":
    unittest.main()
