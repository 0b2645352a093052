"""Start-up shared by the entry points that run several plans in one launch (equivalence, memory_matrix,
plan_bench): read every plan before anything starts, then choose the device and join the process group."""
from __future__ import annotations

import os

from . import report
from .comm import GroupCache, probe_collectives
from .device import SetupError, check_torch_version, choose_device, die_with_launcher, init_distributed
from .plan import PlanError, load_plan_json, parse_plan


def world_and_rank() -> tuple[int, int]:
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))


def load_plans(paths: list[str], world: int) -> list:
    """(path, Plan) for every path; a bad plan is a SetupError naming its file."""
    plans = []
    for path in paths:
        try:
            plans.append((path, parse_plan(load_plan_json(path), world)))
        except PlanError as e:
            raise SetupError(f"{path}: {e}") from None
    return plans


def start(device_name: str, world: int, rank: int, check=lambda: None):
    """Checks torch and ``check()`` (raising SetupError), picks the device and joins the process group.
    Returns (device choice, distributed, group cache); a SetupError ends the process with exit code 2."""
    report.install_stack_dump()
    die_with_launcher()
    try:
        check_torch_version()
        check()
        choice = choose_device(device_name)
    except SetupError as e:
        report.fail(str(e), show=rank == 0)
    distributed = world > 1
    if distributed:
        init_distributed(choice)
        probe_collectives()
    return choice, distributed, GroupCache(rank, distributed)
