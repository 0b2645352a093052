"""The default learning rate, by model size: GPT-3's peak learning rates (Brown et al. 2020, "Language
Models are Few-Shot Learners", Table 2.1), interpolated linearly in log(lr) against log(parameters) and
held at the end values outside 125M–175B.

Why not one constant: Adam moves every weight by about lr per step whatever the gradient's size, so a
rate that trains a small model fast throws a large one off. On an H200, GPT-3 1.3B at 1e-3 went
11.24 -> 12.13 -> 11.65 in its first steps; Table 2.1 gives it 2e-4.
"""
from __future__ import annotations

import math

# (parameters, peak learning rate), Table 2.1.
GPT3_PEAK_LR = (
    (125e6, 6.0e-4),
    (350e6, 3.0e-4),
    (760e6, 2.5e-4),
    (1.3e9, 2.0e-4),
    (2.7e9, 1.6e-4),
    (6.7e9, 1.2e-4),
    (13e9, 1.0e-4),
    (175e9, 0.6e-4),
)


def default_lr(parameters: int) -> float:
    points = GPT3_PEAK_LR
    if parameters <= points[0][0]:
        return points[0][1]
    if parameters >= points[-1][0]:
        return points[-1][1]
    for (n0, lr0), (n1, lr1) in zip(points, points[1:]):
        if n0 <= parameters <= n1:
            t = (math.log(parameters) - math.log(n0)) / (math.log(n1) - math.log(n0))
            return math.exp(math.log(lr0) + t * (math.log(lr1) - math.log(lr0)))
    raise AssertionError("unreachable: the points are sorted")


def parameter_count(cfg) -> int:
    """Parameters of the model the executor builds (a ModelConfig: plan.model)."""
    from .model import head_specs, layer_specs, wpe_specs, wte_specs

    if cfg.is_swin:
        from .swin import parameter_count as swin_parameter_count

        return swin_parameter_count(cfg)
    if cfg.is_t5:
        from .t5 import parameter_count as t5_parameter_count

        return t5_parameter_count(cfg)

    def total(specs) -> int:
        return sum(math.prod(s.shape) for s in specs)

    return cfg.layers * total(layer_specs(cfg)) + total(wte_specs(cfg)) + total(wpe_specs(cfg)) + total(head_specs(cfg))
