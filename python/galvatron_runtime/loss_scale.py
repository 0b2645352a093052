"""Dynamic loss scaling for fp16 (and, for the tests, any compute dtype).

fp16 has 5 exponent bits: gradients below ~6e-8 flush to zero. The loss is multiplied by a scale S before
backward (every gradient is then S times larger, exactly, for a power of two), the gradients are
unscaled (× 1/S, in the fp32 master dtype) before clipping and Adam. If any gradient element on any rank
is inf/NaN, the step is skipped everywhere: no parameter, master or Adam state changes and Adam's step
count does not advance; the scale is halved. After ``window`` good steps in a row it doubles.

Convention (one documented choice, the defaults of the flags in train.py):
  initial scale 2**16      torch.amp.GradScaler's init_scale (and DeepSpeed's initial_scale_power 16);
                           Megatron-LM's --initial-loss-scale defaults to 2**32
  growth ×2 after 1000     Megatron-LM's --loss-scale-window 1000 (DynamicGradScaler growth_interval;
  good steps in a row      DeepSpeed's loss_scale_window); torch.amp.GradScaler uses 2000
  backoff ×0.5 on every    torch.amp.GradScaler (no hysteresis); Megatron's --hysteresis defaults to 2,
  overflow                 i.e. it halves only after 2 overflows in a row
  minimum scale 1          Megatron-LM's --min-loss-scale 1.0
An overflow resets the good-step counter (Megatron and GradScaler both do).

The state (scale, good-step counter) is the same on every rank: the found-inf flag is reduced over the
whole world before anyone decides (executor.py), so every rank of every stage and DP group takes the
same decision and the collectives of the optimizer step stay matched.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class LossScaleConfig:
    initial_scale: float = 2.0**16
    growth_factor: float = 2.0
    backoff_factor: float = 0.5
    window: int = 1000  # good steps in a row before the scale grows
    min_scale: float = 1.0


class DynamicLossScaler:
    def __init__(self, config: LossScaleConfig = LossScaleConfig()):
        self.config = config
        self.scale = float(config.initial_scale)
        self.good_steps = 0  # good steps in a row since the last overflow or growth

    def update(self, found_inf: bool) -> None:
        """After a step: ``found_inf`` (the world-reduced flag) says whether the step was skipped."""
        c = self.config
        if found_inf:
            self.scale = max(self.scale * c.backoff_factor, c.min_scale)
            self.good_steps = 0
            return
        self.good_steps += 1
        if self.good_steps >= c.window:
            self.scale *= c.growth_factor
            self.good_steps = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "goodSteps": self.good_steps}

    def load_state_dict(self, state: dict) -> None:
        self.scale = float(state["scale"])
        self.good_steps = int(state["goodSteps"])


def add_arguments(ap) -> None:
    """The loss-scaling flags of train.py and equivalence.py (Megatron-LM's names)."""
    ap.add_argument(
        "--loss-scale",
        default=None,
        choices=["dynamic", "none"],
        help="dynamic loss scaling; default: dynamic for --dtype fp16, none otherwise (any dtype may use it)",
    )
    ap.add_argument("--initial-loss-scale", type=float, default=2.0**16, help="default 65536 (2^16)")
    ap.add_argument("--loss-scale-window", type=int, default=1000, help="good steps in a row before the scale doubles")
    ap.add_argument("--min-loss-scale", type=float, default=1.0)
    # Testing only (README): write an inf into one gradient element after the gradient sync of step K
    # (repeatable), on one rank (default: the last); needs loss scaling.
    ap.add_argument("--inject-inf-step", type=int, action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("--inject-inf-rank", type=int, default=None, help=argparse.SUPPRESS)


def config_from_args(args, dtype: str, world: int) -> LossScaleConfig | None:
    """The scaler's settings from the flags, or None without loss scaling (SetupError naming a bad flag)."""
    from .device import SetupError

    mode = args.loss_scale or ("dynamic" if dtype == "fp16" else "none")
    if mode == "none":
        if args.inject_inf_step:
            raise SetupError("--inject-inf-step needs --loss-scale dynamic (without it the inf would reach the weights)")
        return None
    if not args.initial_loss_scale >= 1:
        raise SetupError(f"--initial-loss-scale must be >= 1, got {args.initial_loss_scale:g}")
    if not 1 <= args.min_loss_scale <= args.initial_loss_scale:
        raise SetupError(f"--min-loss-scale must be >= 1 and <= --initial-loss-scale, got {args.min_loss_scale:g}")
    if args.loss_scale_window < 1:
        raise SetupError(f"--loss-scale-window must be >= 1, got {args.loss_scale_window}")
    if args.inject_inf_rank is not None and not 0 <= args.inject_inf_rank < world:
        raise SetupError(f"--inject-inf-rank must be a rank in 0..{world - 1}, got {args.inject_inf_rank}")
    if any(k < 0 for k in args.inject_inf_step):
        raise SetupError("--inject-inf-step must be >= 0")
    return LossScaleConfig(
        initial_scale=args.initial_loss_scale, window=args.loss_scale_window, min_scale=args.min_loss_scale
    )
