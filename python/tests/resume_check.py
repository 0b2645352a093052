"""Kill-and-resume check: losses after a SIGKILL + --resume equal an uninterrupted run's, bit for bit.

    python python/tests/resume_check.py PLAN.json [--nproc 8] [--steps 6] [--every 2] [--kill-after 4]

1. uninterrupted: --steps 6 --checkpoint-every 2 into a fresh directory;
2. interrupted: same flags into another directory; as soon as rank 0 reports the checkpoint after
   step 4 (its step line carries "checkpoint"), the whole torchrun process group gets SIGKILL;
3. resumed: --resume --steps 6 on the interrupted directory.
Prints one JSON line {"event":"resume-check","uninterrupted":[..],"resumed":[..],"identical":bool}
and exits 0 when the resumed losses equal the uninterrupted ones exactly (float64 on CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command(plan, nproc, steps, every, ckpt, resume=False):
    cmd = [
        os.path.join(ROOT, ".venv", "bin", "python"),
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(nproc),
        "-m",
        "galvatron_runtime.train",
        "--plan",
        plan,
        "--steps",
        str(steps),
        "--dtype",
        "float64",
        "--checkpoint-dir",
        ckpt,
        "--checkpoint-every",
        str(every),
    ]
    return cmd + (["--resume"] if resume else [])


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.path.join(ROOT, "python") + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def rank0_losses(lines):
    out = {}
    for line in lines:
        ev = json.loads(line)
        if ev.get("event") == "step" and ev.get("rank") == 0:
            out[ev["step"]] = ev["loss"]
    return out


def run(cmd):
    p = subprocess.run(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {p.returncode}")
    return p.stdout.splitlines()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plan")
    ap.add_argument("--nproc", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--kill-after", type=int, default=4, help="kill once the checkpoint after this many steps exists")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="galvatron-resume-")
    t0 = time.time()
    full = rank0_losses(run(command(a.plan, a.nproc, a.steps, a.every, os.path.join(work, "full"))))

    ckpt = os.path.join(work, "killed")
    p = subprocess.Popen(
        command(a.plan, a.nproc, a.steps, a.every, ckpt),
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: SIGKILL reaches torchrun and every rank
    )
    before = []
    killed_at = None
    for line in p.stdout:
        before.append(line)
        ev = json.loads(line)
        if ev.get("event") == "step" and ev.get("rank") == 0 and ev.get("checkpoint") and ev["step"] + 1 == a.kill_after:
            os.killpg(p.pid, signal.SIGKILL)
            killed_at = ev["step"]
            break
    p.wait()
    if killed_at is None:
        raise SystemExit("the run ended before the checkpoint to kill after")
    time.sleep(1.0)
    with open(os.path.join(ckpt, "latest")) as f:
        latest = f.read().strip()
    if latest != f"step-{a.kill_after:08d}":
        raise SystemExit(f"the kill came too late: latest checkpoint is {latest}")
    resumed = rank0_losses(run(command(a.plan, a.nproc, a.steps, a.every, ckpt, resume=True)))
    first = rank0_losses(before)
    expected = [full[k] for k in range(a.kill_after, a.steps)]
    got = [resumed.get(k) for k in range(a.kill_after, a.steps)]
    identical = expected == got and all(first[k] == full[k] for k in first)
    print(
        json.dumps(
            {
                "event": "resume-check",
                "plan": a.plan,
                "killedAfterStep": killed_at,
                "latestAtResume": latest,
                "uninterrupted": [full[k] for k in sorted(full)],
                "beforeKill": [first[k] for k in sorted(first)],
                "resumed": got,
                "resumedSteps": sorted(resumed),
                "identical": identical,
                "wallTimeS": round(time.time() - t0, 1),
            }
        )
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
