"""Run several plans in one launch and report what each measured (the GPU check's runner).

    torchrun --standalone --nproc-per-node N -m galvatron_runtime.plan_bench --plans a.json b.json --steps 6 --device cuda

Per plan, rank 0 prints one line (after every rank ran the plan):

    {"event":"run","plan":path,"device":..,"dtype":..,"kernels":..,"ranks":N,"steps":S,"losses":[..],
     "stepTimesS":[..],"stepTimeS":median,"peakBytes":P,"peakSource":"cuda-allocator"|"accounted",
     "memory":[per-rank memory objects as train prints]}

or ``"outOfMemory": true`` with the error's first line when a rank ran out of memory (the launch goes on
with the next plan). ``--fast-kernels off,on`` (kernels.py; a comma list) runs each plan once per mode,
from the same initial state (the executor is built once and its state reloaded), over the same steps and
samples, one line per mode: the losses of the modes compare step by step. ``stepTimeS`` is the median of the steps after the first (the first is accounted,
memory.py, and carries start-up work). One launch for all plans: starting torch and CUDA once per plan
would take most of a short GPU session.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import statistics
import time

import torch
import torch.distributed as dist

from . import kernels, memory, report
from .data import make_data
from .device import DTYPES, SetupError, default_dtype, precision, reset_peak_memory, synchronize
from .loss_scale import LossScaleConfig
from .entry import load_plans, start, world_and_rank
from .executor import Executor, RunConfig, create_groups


def _gather(obj, distributed: bool, world: int) -> list:
    if not distributed:
        return [obj]
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def _run_plan(ex: Executor, steps, device) -> dict:
    peaks: dict[str, int] = {}
    times, losses = [], []
    report_ = None
    for step in range(steps):
        reset_peak_memory(device)
        synchronize(device)
        t0 = time.perf_counter()
        if report_ is None:
            loss, report_ = ex.train_step_accounted(step)
        else:
            loss = ex.train_step(step)
        synchronize(device)
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        for key, value in memory.cuda_peaks(device).items():
            peaks[key] = max(peaks.get(key, 0), value)
    out = {
        "event": "memory",
        "rank": ex.rank,
        **report_,
        "peakBytes": peaks.get("maxAllocated", report_["accountedPeakBytes"]),
        "peakSource": "cuda-allocator" if peaks else "accounted",
    }
    if peaks:
        out["cudaMaxAllocatedBytes"] = peaks["maxAllocated"]
        out["cudaMaxReservedBytes"] = peaks["maxReserved"]
        free, total = torch.cuda.mem_get_info(device)
        out["deviceUsedBytes"] = int(total - free)
    return {"times": times, "losses": losses, "memory": out}


def _emit(path, args, dtype, mode, world, results, failures) -> None:
    line = {
        "event": "run", "plan": os.path.abspath(path), "device": args.device, "dtype": dtype, "kernels": mode,
        "ranks": world, "steps": args.steps,
    }
    if failures:
        report.emit({**line, "outOfMemory": True, "error": failures[0]})
        return
    times = [max(r["times"][k] for r in results) for k in range(args.steps)]
    mems = [r["memory"] for r in results]
    report.emit(
        {
            **line,
            "losses": results[0]["losses"],
            "stepTimesS": times,
            "stepTimeS": statistics.median(times[1:]),
            "peakBytes": max(m["peakBytes"] for m in mems),
            "peakSource": mems[0]["peakSource"],
            "memory": mems,
        }
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.plan_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--plans", nargs="+", required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default=None, choices=list(DTYPES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--fast-kernels",
        default="auto",
        help="a mode of kernels.py (auto, off, fused, on) or a comma list of them, each run from the same start",
    )
    args = ap.parse_args(argv)
    world, rank = world_and_rank()
    plans = []
    modes = args.fast_kernels.split(",")

    def check():
        for m in modes:
            if m not in kernels.CHOICES:
                raise SetupError(f"--fast-kernels {m}: expected one of {', '.join(kernels.CHOICES)} (or a comma list)")
        if args.steps < 2:
            raise SetupError("--steps must be >= 2 (the first step is accounted and left out of the timing)")
        plans.extend(load_plans(args.plans, world))

    choice, distributed, groups = start(args.device, world, rank, check)
    resolved = [kernels.usable(kernels.resolve(m, choice.device.type), choice.device, warn=rank == 0) for m in modes]
    for path, plan in plans:
        dtype = args.dtype or default_dtype(args.device, plan.precision)
        # fp16 runs as train.py runs it by default: with dynamic loss scaling (its inf check is timed too).
        cfg = RunConfig(
            precision(dtype), choice.device, args.seed, loss_scale=LossScaleConfig() if dtype == "fp16" else None
        )
        ex, initial = None, None
        for mode in resolved:
            try:
                if ex is None:
                    create_groups(plan, groups)
                    data = make_data("synthetic", plan.model.vocab, plan.seq, cfg.seed, plan.model)
                    ex = Executor(plan, rank, groups, cfg, data)
                    if len(resolved) > 1:  # every mode starts from these weights (on the host: no device peak)
                        initial = (ex.state_dict(), ex.scaler_state_dict())
                else:
                    ex.load_state_dict(initial[0])
                    ex.load_scaler_state_dict(initial[1])
                ex.cfg = dataclasses.replace(cfg, kernels=mode)
                result = _run_plan(ex, args.steps, choice.device)
                failure = None
            except torch.cuda.OutOfMemoryError as e:  # the plan does not fit: say so and go on
                result, failure = None, str(e).strip().split("\n")[0]
            gc.collect()
            if choice.device.type == "cuda":
                torch.cuda.empty_cache()
            results = _gather(result, distributed, world)
            failures = [f for f in _gather(failure, distributed, world) if f]
            if failures:  # a plan out of memory in one mode is not retried in the next
                ex = None
            if rank == 0:
                _emit(path, args, dtype, mode, world, results, failures)
            if failures:
                break
        ex, initial = None, None
        gc.collect()
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    report.exit_process(main())
