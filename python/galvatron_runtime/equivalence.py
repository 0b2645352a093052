"""The central correctness test: hybrid runs of several plans against the single-process reference.

    torchrun --standalone --nproc-per-node 8 -m galvatron_runtime.equivalence --plans a.json b.json --steps 3

One launch for all plans (starting torch per plan is slow on small CPU machines): for each plan every
rank builds its part (process groups are created once per distinct rank set and reused), runs the steps,
and the final parameters are gathered to full tensors on rank 0. Rank 0 also runs the reference: the
same model, data and seed, unsharded, one process, no process group, one micro-batch of the whole global
batch (the same layer code with tp = dp = 1), cached per (model, batch, seq, dropout). With
plan.training.dropout both apply the same masks (dropout.py: drawn per sample and site, not per rank or
micro-batch). Rank 0 prints one line per plan:

    {"event":"equivalence","plan":..,"losses":[..],"referenceLosses":[..],"maxLossRelError":..,
     "maxParamRelError":..,"worstParam":..,"wallTimeS":..}

With loss scaling (--loss-scale dynamic; train.py's flags, including the testing flag --inject-inf-step)
the line adds "lossScales", "skipped", "referenceLossScales", "referenceSkipped" and
"referenceStateUnchanged" (per skipped step of the reference: its whole optimizer state stayed
bit-identical), and every rank prints per plan and step
    {"event":"step","plan":..,"rank":r,"step":k,"lossScale":S,"skipped":b[,"stateUnchanged":b]}
("stateUnchanged" on skipped steps: this rank's parameters, masters, Adam moments and step counts are
bit-identical to before the step).

relative error = max|a − b| / max(max|b|, tiny) per tensor (per step for losses), maximum over tensors.
The last stage's copy of a tied embedding (head.wte) is compared with the reference's embed.wte, and each
stage's copy of a T5's relative-position tables (copy<s>.embed.rel_enc) with the reference's table.
Exit code 0 when every plan ran (the threshold is the caller's; --max-rel-error makes it ours: exit 1).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time

import torch
import torch.distributed as dist

from . import loss_scale as loss_scale_flags
from . import kernels, report
from .comm import GroupCache
from .data import make_data
from .device import SetupError, precision
from .entry import load_plans, start, world_and_rank
from .executor import Executor, RunConfig, create_groups
from .optim import AdamConfig
from .plan import reference_plan

TINY = 1e-300


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    if a.shape != b.shape:
        return float("inf")
    denom = max(b.abs().max().item() if b.numel() else 0.0, TINY)
    return (a - b).abs().max().item() / denom if a.numel() else 0.0


def _same_state(a: dict, b: dict) -> bool:
    """Two Executor.state_dict()s are bit-identical (tensors by torch.equal, step counts by ==)."""
    if a.keys() != b.keys():
        return False
    for unit in a:
        if a[unit].keys() != b[unit].keys():
            return False
        for key, x in a[unit].items():
            y = b[unit][key]
            same = torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
            if not same:
                return False
    return True


def run_steps(ex: Executor, steps: int) -> tuple[list[float], list[dict]]:
    """The losses of steps 0..steps-1 and, with loss scaling, per step {"lossScale", "skipped"} plus, on a
    skipped step, "stateUnchanged": whether this rank's optimizer state stayed bit-identical."""
    losses, infos = [], []
    for k in range(steps):
        before = ex.state_dict() if ex.scaler is not None else None
        losses.append(ex.train_step(k))
        if ex.scaler is not None:
            info = dict(ex.last_step_info)
            if info["skipped"]:
                info["stateUnchanged"] = _same_state(before, ex.state_dict())
            infos.append(info)
    return losses, infos


def reference_run(plan, cfg: RunConfig, data_source: str, steps: int):
    ref = reference_plan(plan)
    data = make_data(data_source, plan.model.vocab, plan.seq, cfg.seed, plan.model)
    # A forced overflow lands on the reference's only rank (the hybrid run's lands on its chosen rank).
    ex = Executor(ref, 0, GroupCache(0, distributed=False), dataclasses.replace(cfg, inject_inf_rank=None), data)
    losses, infos = run_steps(ex, steps)
    return losses, ex.gather_parameters(), infos


def compare(losses, params, ref_losses, ref_params) -> dict:
    loss_err = max((abs(a - b) / max(abs(b), TINY) for a, b in zip(losses, ref_losses)), default=0.0)
    if len(losses) != len(ref_losses):
        loss_err = float("inf")
    errors = {}
    for name, t in params.items():
        # The last stage's copy of a tied embedding, stage s's copy of a T5's relative-position tables.
        ref_name = "embed.wte" if name == "head.wte" else re.sub(r"^copy\d+\.", "", name)
        errors[name] = rel_error(t, ref_params[ref_name]) if ref_name in ref_params else float("inf")
    for name in ref_params:
        if name not in params:
            errors[name] = float("inf")  # a parameter the hybrid run lost
    worst_name = max(sorted(errors), key=lambda n: errors[n])
    return {"maxLossRelError": loss_err, "maxParamRelError": errors[worst_name], "worstParam": worst_name}


def scale_fields(infos: list[dict], ref_infos: list[dict]) -> dict:
    return {
        "lossScales": [i["lossScale"] for i in infos],
        "skipped": [i["skipped"] for i in infos],
        "referenceLossScales": [i["lossScale"] for i in ref_infos],
        "referenceSkipped": [i["skipped"] for i in ref_infos],
        "referenceStateUnchanged": [i["stateUnchanged"] for i in ref_infos if i["skipped"]],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.equivalence", description=__doc__.split("\n")[0])
    ap.add_argument("--plans", nargs="+", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--data", default="synthetic")
    ap.add_argument("--max-rel-error", type=float, default=None, help="exit 1 if any error exceeds this")
    loss_scale_flags.add_arguments(ap)
    # Off by default: the matrix pins the written-out path; with another mode both sides take it.
    kernels.add_argument(ap, default="off")
    args = ap.parse_args(argv)
    world, rank = world_and_rank()
    plans = []
    prec = None
    loss_scale = None

    def check():
        nonlocal prec, loss_scale
        prec = precision(args.dtype)
        loss_scale = loss_scale_flags.config_from_args(args, args.dtype, world)
        plans.extend(load_plans(args.plans, world))
        if args.steps < 1:
            raise SetupError("--steps must be >= 1")
        make_data(args.data, plans[0][1].model.vocab, plans[0][1].seq, args.seed, plans[0][1].model)

    choice, distributed, groups = start(args.device, world, rank, check)
    cfg = RunConfig(
        prec,
        choice.device,
        args.seed,
        AdamConfig(lr=args.lr, max_grad_norm=args.max_grad_norm),
        loss_scale=loss_scale,
        inject_inf_steps=frozenset(args.inject_inf_step),
        inject_inf_rank=args.inject_inf_rank,
        kernels=kernels.usable(kernels.resolve(args.fast_kernels, choice.device.type), choice.device, warn=rank == 0),
    )
    references: dict[str, tuple] = {}
    worst = 0.0
    for path, plan in plans:
        t0 = time.perf_counter()
        create_groups(plan, groups)
        data = make_data(args.data, plan.model.vocab, plan.seq, args.seed, plan.model)
        ex = Executor(plan, rank, groups, cfg, data)
        losses, infos = run_steps(ex, args.steps)
        for k, info in enumerate(infos):
            report.emit({"event": "step", "plan": path, "rank": rank, "step": k, **info})
        params = ex.gather_parameters()
        del ex
        if rank == 0:
            key = json.dumps([plan.raw.get("model"), plan.global_batch, plan.seq, plan.dropout], sort_keys=True)
            if key not in references:
                references[key] = reference_run(plan, cfg, args.data, args.steps)
            ref_losses, ref_params, ref_infos = references[key]
            result = compare(losses, params, ref_losses, ref_params)
            worst = max(worst, result["maxLossRelError"], result["maxParamRelError"])
            report.emit(
                {
                    "event": "equivalence",
                    "plan": path,
                    "losses": losses,
                    "referenceLosses": ref_losses,
                    **result,
                    **(scale_fields(infos, ref_infos) if loss_scale is not None else {}),
                    "wallTimeS": time.perf_counter() - t0,
                }
            )
        if distributed:
            dist.barrier()
    code = 0
    if args.max_rel_error is not None and rank == 0 and not worst <= args.max_rel_error:
        report.log(f"equivalence: worst relative error {worst:.3e} exceeds {args.max_rel_error:.1e}")
        code = 1
    if distributed:
        flag = torch.tensor([float(code)])
        if choice.device.type == "cuda":
            flag = flag.to(choice.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        code = int(flag.item())
        dist.destroy_process_group()
    return code


if __name__ == "__main__":
    report.exit_process(main())
