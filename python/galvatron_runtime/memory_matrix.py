"""Memory accounting of several plans in one launch (the memory-matrix test's runner).

    torchrun --standalone --nproc-per-node 8 -m galvatron_runtime.memory_matrix --plans a.json b.json --dtype float32

For each plan every rank builds its part, runs one accounted training step (memory.py) and prints

    {"event":"memory","plan":path,"rank":r,"stage":s,"modelStateBytes":..,"activationBytes":..,...}

the same object ``galvatron_runtime.train`` prints after its steps. One launch for all plans: starting
torch once per plan would take most of the time on small CPU machines.
"""
from __future__ import annotations

import argparse
import os

import torch.distributed as dist

from . import report
from .comm import GroupCache, probe_collectives
from .data import make_data
from .device import DTYPES, SetupError, check_torch_version, choose_device, die_with_launcher, init_distributed, precision
from .executor import Executor, RunConfig, create_groups
from .plan import PlanError, load_plan_json, parse_plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.memory_matrix", description=__doc__.split("\n")[0])
    ap.add_argument("--plans", nargs="+", required=True)
    ap.add_argument("--dtype", default="float32", choices=list(DTYPES))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    report.install_stack_dump()
    die_with_launcher()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    try:
        check_torch_version()
        prec = precision(args.dtype)
        plans = []
        for path in args.plans:
            try:
                plans.append((path, parse_plan(load_plan_json(path), world)))
            except PlanError as e:
                raise SetupError(f"{path}: {e}") from None
        choice = choose_device(args.device)
    except SetupError as e:
        report.fail(str(e), show=rank == 0)
    distributed = world > 1
    if distributed:
        init_distributed(choice)
        probe_collectives()
    groups = GroupCache(rank, distributed)
    cfg = RunConfig(prec, choice.device, args.seed)
    for path, plan in plans:
        create_groups(plan, groups)
        ex = Executor(plan, rank, groups, cfg, make_data("synthetic", plan.model.vocab, plan.seq, args.seed))
        _, measured = ex.train_step_accounted(0)
        report.emit({"event": "memory", "plan": path, "rank": rank, "stage": ex.stage, **measured})
        del ex
        if distributed:
            dist.barrier()
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
