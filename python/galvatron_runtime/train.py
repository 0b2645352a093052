"""Train a plan: ``torchrun --nproc-per-node N -m galvatron_runtime.train --plan plan.json [options]``.

stdout: JSON lines only, from every rank:
  {"event":"start","rank":r,"worldSize":W,"stage":s,"localRank":l,"plan":..,"device":..,"backend":..,
   "dtype":..,"kernels":"off"|"fused"|"on","lr":x,"steps":N,"startStep":k,"resumedFrom":path|null,"torch":..}
  {"event":"step","rank":r,"step":k,"loss":L|null,"stepTimeS":t,"peakMemoryBytes":m[,"lossScale":S,"skipped":b]
   [,"checkpoint":path]}
  {"event":"memory","rank":r,"stage":s,"modelStateBytes":M,"activationBytes":A,"transientBytes":T,
   "transients":{name:bytes},"peakActivationBytes":L,"accountedPeakBytes":P0,"peakBytes":P,
   "peakSource":"cuda-allocator"|"accounted"[,"cudaMaxAllocatedBytes":..,"cudaMaxReservedBytes":..],
   "units":{label:{"modelStateBytes":..,"activationBytes":..}}}
  {"event":"end","rank":r,"stepsRun":n,"finalStep":N,"checkpoint":path|null,"wallTimeS":t}
``memory`` (memory.py) is measured on the run's first step: model states as held, activations saved for
backward by one micro-batch (all of this rank's chunks), the largest transient; ``peakBytes`` is the CUDA
allocator's peak over all steps, or on CPU the accounted peak (states + live activations + transient).
``step`` is the 0-based index of the global step (its samples are step·globalBatch + i); ``loss`` is the
mean token cross-entropy over the whole global batch on rank 0 (null on the other ranks);
``checkpoint`` appears on the step after which a checkpoint was completed. With loss scaling (--loss-scale
dynamic, the default for --dtype fp16) every step says the scale S its backward ran with and whether it
was skipped (an inf/NaN gradient on some rank: no update anywhere; rank 0 logs one line on stderr).
--steps N is the total number of steps of the run: a resumed run continues from the checkpoint's step up
to N.
Logs and warnings go to stderr. A bad plan or flag: exit code 2 and one line on stderr (rank 0), before
any process group exists. --resume checks the checkpoint on every rank before anything is loaded
(checkpoint.py): a missing, corrupt or foreign checkpoint ends every rank with exit code 2 and one line
naming the file and field. A save that fails on any rank (disk full: any OSError) ends every rank with
exit code 1 and one line; the partial save is removed and `latest` still names the last good one. Ranks
that do not meet within --checkpoint-timeout seconds end with exit code 1 naming the missing rank.
"""
from __future__ import annotations

from .lifeline import die_with_launcher

# Before torch's import (seconds of start-up): a launcher killed meanwhile takes this rank along at once.
die_with_launcher()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch
import torch.distributed as dist

from . import checkpoint, kernels, memory, report
from .comm import GroupCache, probe_collectives
from .data import make_data
from .lr import default_lr, parameter_count
from . import loss_scale as loss_scale_flags
from .loss_scale import LossScaleConfig
from .device import (
    DTYPES,
    SetupError,
    check_torch_version,
    choose_device,
    default_dtype,
    init_distributed,
    peak_memory_bytes,
    precision,
    reset_peak_memory,
    synchronize,
)
from .executor import Executor, RunConfig, create_groups
from .optim import AdamConfig
from .plan import PlanError, load_plan_json, parse_plan


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.train", description="Run a galvatron.plan/v1 plan.")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--steps", type=int, default=10, help="total steps of the run (default 10)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument(
        "--dtype", default=None, choices=list(DTYPES), help="default: float32 on cpu; on cuda the plan's bf16/fp16"
    )
    loss_scale_flags.add_arguments(ap)  # --loss-scale, --initial-loss-scale, --loss-scale-window, ...
    kernels.add_argument(ap)  # --fast-kernels
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: GPT-3's for the model's size, lr.py)")
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--data", default="synthetic", help="synthetic, or the path of a text file (byte tokens)")
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--checkpoint-every", type=int, default=0, help="save every N steps (and at the end)")
    ap.add_argument("--keep-checkpoints", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    ap.add_argument(
        "--checkpoint-timeout",
        type=float,
        default=900.0,
        help="seconds the ranks wait for each other while saving or checking a checkpoint (default 900)",
    )
    return ap.parse_args(argv)


def run_identity(world: int, plan, dtype: str, seed: int, loss_scale: LossScaleConfig | None) -> dict:
    """What a checkpoint records and a resume must match. ``lossScale`` only with loss scaling: its window
    and floor decide the scales after the resume (the scale itself and the good-step counter are restored
    from the checkpoint, so --initial-loss-scale may differ)."""
    out = {"worldSize": world, "plan": plan.fingerprint(), "dtype": dtype, "seed": seed}
    if loss_scale is not None:
        out["lossScale"] = {"mode": "dynamic", "window": loss_scale.window, "minScale": loss_scale.min_scale}
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    report.install_stack_dump()
    die_with_launcher()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    t_start = time.perf_counter()
    # ---- refuse bad input before anything is built
    try:
        check_torch_version()
        try:
            plan = parse_plan(load_plan_json(args.plan), world)
        except PlanError as e:
            raise SetupError(str(e)) from None
        dtype = args.dtype or default_dtype(args.device, plan.precision)
        prec = precision(dtype)
        if args.steps < 0:
            raise SetupError("--steps must be >= 0")
        loss_scale = loss_scale_flags.config_from_args(args, dtype, world)
        if args.checkpoint_every < 0:
            raise SetupError("--checkpoint-every must be >= 0")
        if (args.resume or args.checkpoint_every) and not args.checkpoint_dir:
            raise SetupError("--resume and --checkpoint-every need --checkpoint-dir")
        if not args.checkpoint_timeout > 0:
            raise SetupError(f"--checkpoint-timeout must be > 0 seconds, got {args.checkpoint_timeout:g}")
        try:
            fault = checkpoint.parse_fault(os.environ.get(checkpoint.FAULT_ENV))
        except ValueError as e:
            raise SetupError(str(e)) from None
        choice = choose_device(args.device)
        data = make_data(args.data, plan.model.vocab, plan.seq, args.seed, plan.model)
    except SetupError as e:
        report.fail(str(e), show=rank == 0)

    distributed = world > 1
    if distributed:
        init_distributed(choice)
        probe_collectives()
    # Created before the executor's groups, in the same order on every rank (new_group is collective).
    coord = checkpoint.Coordinator(rank, world, args.checkpoint_timeout) if args.checkpoint_dir else None

    def end_together(error: checkpoint.CheckpointError, code: int, prefix: str = "") -> "NoReturn":  # noqa: F821
        """Every rank has the same error: one line (rank 0's; the others' when rank 0 is the one missing),
        then every rank exits with ``code``. Under torchrun the first rank to exit gets the others
        SIGTERMed, so the ranks pass a barrier after rank 0 has printed; after a timeout they do not wait
        again. os._exit: the interpreter's teardown with a live gloo group can abort (report.exit_process)."""
        timed_out = isinstance(error, checkpoint.CollectiveTimeout)
        show = rank == 0 or (timed_out and error.rank0_missing)
        if not distributed:
            report.fail(f"{prefix}{error}", code, show=show)
        if show:
            sys.stderr.write(f"galvatron-runtime: error: {prefix}{error}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        if not timed_out:
            coord.barrier()
        os._exit(code)

    resume_from = None
    if args.resume:
        # Everything is checked, on every rank, before any rank loads anything (checkpoint.verify_resume).
        try:
            identity = run_identity(world, plan, dtype, args.seed, loss_scale)
            resume_from = checkpoint.verify_resume(args.checkpoint_dir, rank, world, identity, coord, fault)
        except checkpoint.CollectiveTimeout as e:
            end_together(e, 1, "--resume: ")
        except checkpoint.CheckpointError as e:
            end_together(e, 2, "--resume: ")
    groups = GroupCache(rank, distributed)
    create_groups(plan, groups)
    fast = kernels.usable(kernels.resolve(args.fast_kernels, choice.device.type), choice.device, warn=rank == 0)
    lr = args.lr if args.lr is not None else default_lr(parameter_count(plan.model))
    cfg = RunConfig(
        prec,
        choice.device,
        args.seed,
        AdamConfig(lr=lr, max_grad_norm=args.max_grad_norm),
        loss_scale=loss_scale,
        inject_inf_steps=frozenset(args.inject_inf_step),
        inject_inf_rank=args.inject_inf_rank,
        kernels=fast,
    )
    ex = Executor(plan, rank, groups, cfg, data)

    start_step = 0
    if resume_from is not None:
        state = checkpoint.load_rank(resume_from, rank)
        ex.load_state_dict(state["units"])
        ex.load_scaler_state_dict(state.get("lossScaler"))  # scale and good-step counter: resume is exact
        torch.set_rng_state(state["rng"])
        start_step = int(state["step"])
        if rank == 0:
            report.log(f"resumed from {resume_from} at step {start_step}")

    meta = run_identity(world, plan, dtype, args.seed, loss_scale)

    def save(step_count: int) -> str:
        state = {"step": step_count, "rank": rank, "units": ex.state_dict(), "rng": torch.get_rng_state()}
        if ex.scaler is not None:
            state["lossScaler"] = ex.scaler_state_dict()
        try:
            path = checkpoint.save(
                args.checkpoint_dir, step_count, rank, world, state, meta, coord, args.keep_checkpoints, fault
            )
        except checkpoint.CheckpointError as e:  # disk full, permissions, a rank gone: one line, exit 1
            end_together(e, 1)
        if rank == 0:
            report.log(f"checkpoint {path}")
        return path

    report.emit(
        {
            "event": "start",
            "rank": rank,
            "worldSize": world,
            "stage": ex.stage,
            "localRank": ex.local,
            "plan": args.plan,
            "device": str(choice.device),
            "backend": choice.backend if distributed else None,
            "dtype": dtype,
            "kernels": fast,
            "lr": lr,
            "steps": args.steps,
            "startStep": start_step,
            "resumedFrom": resume_from,
            "torch": torch.__version__,
        }
    )
    last_ckpt, saved_at = None, start_step if resume_from else None
    memory_report, cuda_peaks = None, {}
    for step in range(start_step, args.steps):
        reset_peak_memory(choice.device)
        synchronize(choice.device)
        t0 = time.perf_counter()
        if memory_report is None:  # the first step is accounted (and left out of timings by the callers)
            loss, memory_report = ex.train_step_accounted(step)
        else:
            loss = ex.train_step(step)
        synchronize(choice.device)
        dt = time.perf_counter() - t0
        for key, value in memory.cuda_peaks(choice.device).items():
            cuda_peaks[key] = max(cuda_peaks.get(key, 0), value)
        event = {
            "event": "step",
            "rank": rank,
            "step": step,
            "loss": loss if rank == 0 else None,
            "stepTimeS": dt,
            "peakMemoryBytes": peak_memory_bytes(choice.device),
            **ex.last_step_info,
        }
        if ex.last_step_info.get("skipped") and rank == 0:
            scale = ex.last_step_info["lossScale"]
            report.log(f"step {step}: inf/NaN gradient at loss scale {scale:g}, step skipped; scale now {ex.scaler.scale:g}")
        done = step + 1
        if args.checkpoint_dir and args.checkpoint_every and done % args.checkpoint_every == 0:
            last_ckpt, saved_at = save(done), done
            event["checkpoint"] = last_ckpt
        report.emit(event)
    if args.checkpoint_dir and args.steps > start_step and saved_at != args.steps:
        last_ckpt = save(args.steps)
    if memory_report is not None:
        peak = cuda_peaks.get("maxAllocated", memory_report["accountedPeakBytes"])
        report.emit(
            {
                "event": "memory",
                "rank": rank,
                "stage": ex.stage,
                **memory_report,
                "peakBytes": peak,
                "peakSource": "cuda-allocator" if cuda_peaks else "accounted",
                **({"cudaMaxAllocatedBytes": cuda_peaks["maxAllocated"], "cudaMaxReservedBytes": cuda_peaks["maxReserved"]} if cuda_peaks else {}),
            }
        )
    report.emit(
        {
            "event": "end",
            "rank": rank,
            "stepsRun": max(0, args.steps - start_step),
            "finalStep": max(args.steps, start_step),
            "checkpoint": last_ckpt,
            "wallTimeS": time.perf_counter() - t_start,
        }
    )
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    report.exit_process(main())
