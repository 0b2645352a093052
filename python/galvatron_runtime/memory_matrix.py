"""Memory accounting of several plans in one launch (the memory-matrix test's runner).

    torchrun --standalone --nproc-per-node 8 -m galvatron_runtime.memory_matrix --plans a.json b.json --dtype float32

For each plan every rank builds its part, runs one accounted training step (memory.py) and prints

    {"event":"memory","plan":path,"rank":r,"stage":s,"modelStateBytes":..,"activationBytes":..,...}

the same object ``galvatron_runtime.train`` prints after its steps. One launch for all plans: starting
torch once per plan would take most of the time on small CPU machines.
"""
from __future__ import annotations

import argparse

import torch.distributed as dist

from . import report
from .data import make_data
from .device import DTYPES, precision
from .entry import load_plans, start, world_and_rank
from .executor import Executor, RunConfig, create_groups


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.memory_matrix", description=__doc__.split("\n")[0])
    ap.add_argument("--plans", nargs="+", required=True)
    ap.add_argument("--dtype", default="float32", choices=list(DTYPES))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    world, rank = world_and_rank()
    plans = []

    def check():
        plans.extend(load_plans(args.plans, world))

    choice, distributed, groups = start(args.device, world, rank, check)
    prec = precision(args.dtype)
    cfg = RunConfig(prec, choice.device, args.seed)
    for path, plan in plans:
        create_groups(plan, groups)
        ex = Executor(plan, rank, groups, cfg, make_data("synthetic", plan.model.vocab, plan.seq, args.seed, plan.model))
        _, measured = ex.train_step_accounted(0)
        report.emit({"event": "memory", "plan": path, "rank": rank, "stage": ex.stage, **measured})
        del ex
        if distributed:
            dist.barrier()
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    report.exit_process(main())
