"""Check a plan against the model and a world size without starting anything (no torch import).

    python -m galvatron_runtime.validate --plan plan.json [--world-size N]

Exit 0 and one JSON line {"event":"valid","worldSize":..,"pipelineDegree":..,"ranksPerStage":..,
"virtualStages":..,"microBatches":..,"microBatchSize":..} on stdout; exit 2 and one line on stderr naming
the field otherwise. The same checks run at the start of every rank of ``train``.
"""
from __future__ import annotations

import argparse

from . import report
from .plan import PlanError, load_plan_json, parse_plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.validate")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--world-size", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        plan = parse_plan(load_plan_json(args.plan), args.world_size)
    except PlanError as e:
        report.fail(str(e))
    report.emit(
        {
            "event": "valid",
            "plan": args.plan,
            "worldSize": plan.world,
            "pipelineDegree": plan.pp,
            "ranksPerStage": plan.n,
            "virtualStages": plan.virtual,
            "microBatches": plan.micro_batches,
            "microBatchSize": plan.micro_batch_size,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
