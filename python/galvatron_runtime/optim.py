"""Adam and global-norm gradient clipping, written out so that the hybrid run and the reference run
apply bit-for-bit the same elementwise update to the same numbers (torch.optim.Adam's single-tensor
formula: no weight decay, bias-corrected, eps added to the corrected sqrt(v)).

Clipping follows torch.nn.utils.clip_grad_norm_: coef = min(1, max_norm / (norm + 1e-6)), grads *= coef.
The norm is over every distinct parameter element exactly once: each unit reports the squares of the
elements it owns (data_parallel.Unit.grad_sq) and the sum is all-reduced over the world.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AdamConfig:
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    max_grad_norm: float = 1.0


def clip_coefficient(total_sq: float, max_norm: float) -> float:
    if max_norm <= 0:
        return 1.0
    norm = math.sqrt(total_sq)
    return min(1.0, max_norm / (norm + 1e-6))


@torch.no_grad()
def adam_(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, step: int, c: AdamConfig) -> None:
    m.mul_(c.beta1).add_(g, alpha=1 - c.beta1)
    v.mul_(c.beta2).addcmul_(g, g, value=1 - c.beta2)
    bias1 = 1 - c.beta1**step
    bias2 = 1 - c.beta2**step
    denom = (v.sqrt() / math.sqrt(bias2)).add_(c.eps)
    p.addcdiv_(m, denom, value=-(c.lr / bias1))
