"""Faster kernels (--fast-kernels; issue 13 item 5): one switch for what a step runs, not for what it computes.

Modes:
  off    the written-out path: every other module's own autograd functions and Adam (optim.adam_), which
         the equivalence and memory tests pin down (bit-identical updates, saved bytes as the cost model
         counts). The default on CPU.
  fused  PyTorch's fused kernels where it has them: F.rms_norm for RMSNorm (one kernel on CUDA; composite on
         CPU) and torch._fused_adam_ for Adam (one kernel per unit instead of ~10 elementwise passes over the
         fp32 master and its states). SDPA and F.layer_norm are used in every mode already.
  on     fused, plus torch.compile of the elementwise parts of a layer that PyTorch runs as separate
         kernels: RMSNorm, RoPE of q and k, SwiGLU, and the bias + residual add after the attention and MLP
         outputs (without dropout). The default on CUDA ("auto").

Why only those parts are compiled, not the layer function: a layer calls TP/SP/CP collectives inside
autograd functions of ours, memory.py's saved-tensor hooks and ZeRO-3/SP packers that add themselves while
it runs, and dropout masks drawn from per-sample generators; dynamo would break its graph at each of them,
and the layer's name and context would be guarded on, recompiling per layer. The compiled parts are pure
functions of tensors: the saved-tensor hooks installed around them still see every tensor their compiled
backward keeps (checked against the eager bytes in tests/test_fast_kernels.py), recomputation re-runs them,
and ZeRO-3's markers replace the weights they save.

Every process uses one mode at a time: Executor.train_step runs under ``active(cfg.kernels)``, so the hybrid
run and the single-process reference of equivalence.py take the same path. Numbers: "fused" and "on" equal
"off" to rounding (≤ 1e-10 relative in float64 on CPU over several steps, tests/test_fast_kernels.py); the
weights are not bit-identical across the modes.
"""
from __future__ import annotations

import contextlib
import sys

import torch
import torch.nn.functional as F

MODES = ("off", "fused", "on")
CHOICES = ("auto",) + MODES

_mode = "off"


def add_argument(ap, default: str = "auto") -> None:
    ap.add_argument(
        "--fast-kernels",
        default=default,
        choices=list(CHOICES),
        help="off: the written-out kernels; fused: PyTorch's fused RMSNorm and Adam; on: fused + torch.compile of "
        f"the layers' elementwise parts; auto: on for cuda, off for cpu (default {default})",
    )


def resolve(name: str, device_type: str) -> str:
    """The mode a --fast-kernels value means on a device: auto is on for CUDA and off elsewhere (CPU runs are
    the exactness tests, which pin the written-out path)."""
    if name == "auto":
        return "on" if device_type == "cuda" else "off"
    if name not in MODES:
        raise ValueError(f"--fast-kernels {name}: expected one of {', '.join(CHOICES)}")
    return name


def mode() -> str:
    return _mode


def fused() -> bool:
    return _mode != "off"


def compiled() -> bool:
    return _mode == "on"


@contextlib.contextmanager
def active(name: str):
    """Runs the block (a step: forward, backward and update) in mode ``name``."""
    global _mode
    old = _mode
    _mode = name
    try:
        yield
    finally:
        _mode = old


# ---------------------------------------------------------------------------------------------------
# Can torch.compile run here? (Inductor needs a C++ compiler on CPU and Triton on CUDA.)

_compile_problem: dict[str, str | None] = {}


def compile_problem(device: torch.device | str) -> str | None:
    """None when torch.compile compiles and runs a small function with its backward on ``device``; else
    why not (one line). Probed once per device type, in float32."""
    dev = torch.device(device)
    if dev.type not in _compile_problem:
        try:
            fn = torch.compile(lambda x, w: F.rms_norm(x, (x.shape[-1],), w, 1e-5) * x)
            x = torch.randn(2, 4, 8, device=dev, requires_grad=True)
            w = torch.ones(8, device=dev, requires_grad=True)
            fn(x, w).sum().backward()
            _compile_problem[dev.type] = None
        except Exception as e:  # any failure of the toolchain: the run goes on without compiling
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            _compile_problem[dev.type] = f"{type(e).__name__}: {first}"[:200]
    return _compile_problem[dev.type]


def usable(name: str, device: torch.device, warn: bool = True) -> str:
    """``name`` (a resolved mode), or "fused" with one warning line on stderr (``warn``: rank 0 only) when
    it is "on" and torch.compile cannot run on ``device``."""
    if name != "on":
        return name
    problem = compile_problem(device)
    if problem is None:
        return name
    if warn:
        sys.stderr.write(
            f"galvatron-runtime: warning: --fast-kernels on: torch.compile does not run on {device.type} ({problem}); "
            "using the fused kernels without compiling\n"
        )
    return "fused"


# ---------------------------------------------------------------------------------------------------
# The compiled parts (torch.compile is lazy: nothing compiles until a layer calls one in mode "on")


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return F.rms_norm(x, (x.shape[-1],), weight, eps)


def _rope_qk(q, k, cos, sin):
    def rot(x):
        a, b = x.chunk(2, dim=-1)
        return x * cos.to(x.dtype) + torch.cat([-b, a], dim=-1) * sin.to(x.dtype)

    return rot(q), rot(k)


def _swiglu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.silu(a) * b


def _bias_residual(x: torch.Tensor, o: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x + (o + bias)


compiled_rms_norm = torch.compile(_rms_norm)
compiled_rope_qk = torch.compile(_rope_qk)
compiled_swiglu = torch.compile(_swiglu)
compiled_bias_residual = torch.compile(_bias_residual)


# ---------------------------------------------------------------------------------------------------
# Adam


@torch.no_grad()
def fused_adam_(params, grads, exp_avgs, exp_avg_sqs, steps: list[int], cfg) -> None:
    """torch.optim.Adam(fused=True)'s kernel on lists of tensors of one dtype and device, each at its own
    step count (after this step's increment). The same formula as optim.adam_ (no weight decay,
    bias-corrected, eps added to the corrected sqrt(v)), rounded by one kernel instead of several."""
    if not params:
        return
    dev = params[0].device
    state_steps = [torch.tensor(float(s), dtype=torch.float32, device=dev) for s in steps]
    torch._fused_adam_(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        state_steps,
        amsgrad=False,
        lr=cfg.lr,
        beta1=cfg.beta1,
        beta2=cfg.beta2,
        weight_decay=0.0,
        eps=cfg.eps,
        maximize=False,
    )
