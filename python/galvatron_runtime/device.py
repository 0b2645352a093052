"""Device, backend and precision: chosen here and nowhere else.

cpu -> gloo, cuda -> nccl. Precision names: float64 and float32 run parameters, activations and
gradients in that dtype; bf16 and fp16 run weights, gradients and activations in 16 bits and keep fp32
master parameters and Adam states (Megatron's mixed precision; no autocast, so nothing is cast per op).
fp16 also needs loss scaling (loss_scale.py), which train.py turns on by default for it.
"""
from __future__ import annotations

import contextlib
import os
import resource
import sys
from dataclasses import dataclass

import torch

from .lifeline import die_with_launcher  # noqa: F401  (re-exported: entry.py, profiler.py)

MIN_TORCH = (2, 4)
DTYPES = ("float64", "float32", "bf16", "fp16")


class SetupError(Exception):
    """A start-up problem the user must fix (exit code 2, one line naming the cause)."""


def check_torch_version() -> None:
    base = torch.__version__.split("+")[0].split(".")
    try:
        version = (int(base[0]), int(base[1]))
    except (ValueError, IndexError):
        return
    if version < MIN_TORCH:
        raise SetupError(
            f"torch {torch.__version__} is too old: the executor needs PyTorch >= {MIN_TORCH[0]}.{MIN_TORCH[1]} "
            "(install the pinned version from python/requirements.txt)"
        )


@dataclass(frozen=True)
class Precision:
    name: str
    param_dtype: torch.dtype  # working parameters, gradients, activations
    master_dtype: torch.dtype  # what Adam updates: the master parameters and its two states
    act_dtype: torch.dtype  # activations sent between pipeline stages

    def autocast(self, device: torch.device):
        """No autocast: bf16/fp16 run the model in 16 bits end to end (Megatron's mixed precision)."""
        return contextlib.nullcontext()


def precision(name: str) -> Precision:
    if name == "float64":
        return Precision(name, torch.float64, torch.float64, torch.float64)
    if name == "float32":
        return Precision(name, torch.float32, torch.float32, torch.float32)
    if name == "bf16":
        # bf16 weights, gradients and activations; fp32 master weights and Adam states (2 + 2 + 12 bytes per
        # parameter). Norms and softmax accumulate in fp32 inside their kernels; the loss runs in fp32.
        return Precision(name, torch.bfloat16, torch.float32, torch.bfloat16)
    if name == "fp16":
        # The same layout as bf16 in float16 (Megatron's --fp16): fp32 master weights and Adam states; the
        # gradients are fp16 and scaled (loss_scale.py), unscaled in fp32 just before clipping and Adam.
        return Precision(name, torch.float16, torch.float32, torch.float16)
    raise SetupError(f"--dtype {name}: expected one of {', '.join(DTYPES)}")


def default_dtype(device_name: str, plan_precision: str) -> str:
    if device_name == "cuda" and plan_precision == "bf16":
        return "bf16"
    if device_name == "cuda" and plan_precision == "fp16":
        return "fp16"
    return "float32"


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    backend: str


def choose_device(name: str) -> DeviceChoice:
    if name == "cpu":
        return DeviceChoice(torch.device("cpu"), "gloo")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise SetupError("--device cuda: no CUDA device is visible to torch (use --device cpu)")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise SetupError(
                f"--device cuda: LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA devices on this node"
            )
        torch.cuda.set_device(local)
        return DeviceChoice(torch.device("cuda", local), "nccl")
    raise SetupError(f"--device {name}: expected cpu or cuda")


def init_distributed(choice: DeviceChoice) -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        return
    kwargs = {}
    if choice.device.type == "cuda":
        kwargs["device_id"] = choice.device
    dist.init_process_group(backend=choice.backend, **kwargs)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: peak allocated by torch on this rank's device. CPU: the process's maximum resident set."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
