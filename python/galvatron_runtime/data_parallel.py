"""Data parallelism per layer: one flat bucket of the layer's parameters, synchronised over its DP group.

A ``Unit`` is the parameters of one layer (or of one part of the embedding/head) on this rank: the TP
shards of its ParamSpecs, flattened into one contiguous bucket (padded to a multiple of dp). Forward uses
views of the bucket, so the gradients of all micro-batches accumulate straight into one flat gradient.
Synchronisation happens once per step, after the last micro-batch, with one collective per run of
consecutive layers that share the group (``_runs``):

  1. SP: replicated weights used inside the sequence-parallel region saw only their rank's tokens; their
     gradient elements are summed over the TP group.
  2. Tied embeddings (pipeline > 1): the word embedding's copies on the first and last stage are summed
     over their pair group (Megatron's embedding group).
  3. DP: ddp and zero1 all-reduce the buckets, zero2 reduce-scatters them, zero3 already holds its
     reduce-scattered slice (zero.py explains the three ZeRO stages).

Gradients are SUMMED over DP, not averaged: the loss of every micro-batch is already divided by the
number of tokens in the global batch, so the sum is the gradient of the global mean loss.

Why our own and not DistributedDataParallel: DDP wraps one module with one process group and hooks
every backward; here each layer has its own DP group (and type) inside a pipeline stage, gradients
accumulate over micro-batches of a schedule we run ourselves, and sync happens once per step.
"""
from __future__ import annotations

import contextlib
import math

import torch

from . import zero
from .comm import Group
from .model import ParamSpec, shard
from .optim import AdamConfig, adam_


class Unit:
    def __init__(
        self,
        name: str,
        specs: list[ParamSpec],
        full: dict[str, torch.Tensor],
        *,
        tp_group: Group,
        dp_group: Group,
        dp_type: str,
        sp: bool,
        device: torch.device,
        dtype: torch.dtype,
        counted: bool = True,
        tie_group: Group | None = None,
    ):
        self.name, self.specs = name, specs
        self.tp_group, self.dp_group, self.dp_type = tp_group, dp_group, dp_type
        self.tie_group = tie_group if tie_group is not None and tie_group.size > 1 else None
        tp, tp_rank = tp_group.size, tp_group.rank
        local = [shard(full[s.name], s, tp, tp_rank) for s in specs]
        self.shapes = [tuple(t.shape) for t in local]
        self.sizes = [t.numel() for t in local]
        self.numel = sum(self.sizes)
        dp = dp_group.size
        self.padded = max(dp, math.ceil(self.numel / dp) * dp)
        flat = torch.zeros(self.padded, dtype=torch.float64)
        if self.numel:
            flat[: self.numel] = torch.cat([t.reshape(-1) for t in local])
        flat = flat.to(device=device, dtype=dtype)
        self.lo, self.hi = zero.shard_bounds(self.padded, dp_group)
        if dp_type == "zero3":
            self.param = torch.nn.Parameter(flat[self.lo : self.hi].clone())
        else:
            self.param = torch.nn.Parameter(flat)
        # Element ranges (of the local bucket) counted in the global gradient norm, and ranges whose
        # gradient is partial over TP because of sequence parallelism.
        self.count_ranges: list[tuple[int, int]] = []
        self.sp_ranges: list[tuple[int, int]] = []
        off = 0
        for s, n in zip(specs, self.sizes):
            replicated = s.tp_dim is None or tp == 1
            if counted and (not replicated or tp_rank == 0):
                self.count_ranges.append((off, off + n))
            if sp and tp > 1 and s.sp_region and s.tp_dim is None:
                self.sp_ranges.append((off, off + n))
            off += n
        self.sharded_states = dp_type in ("zero1", "zero2", "zero3")
        state_len = self.hi - self.lo if self.sharded_states else self.padded
        self.exp_avg = torch.zeros(state_len, dtype=dtype, device=device)
        self.exp_avg_sq = torch.zeros(state_len, dtype=dtype, device=device)
        self.step = 0
        self._grad: torch.Tensor | None = None  # the gradient this rank owns after sync

    # ------------------------------------------------------------------ forward
    def materialize(self, hooks: bool = True):
        """(name -> parameter view, context manager to run the layer's forward under)."""
        if self.dp_type == "zero3":
            full = zero.GatherFlat.apply(self.param, self.dp_group, self.padded)
            ctx = (
                zero.zero3_saved_tensor_hooks(full, self.param, self.dp_group, self.padded)
                if hooks and self.dp_group.size > 1
                else contextlib.nullcontext()
            )
        else:
            full, ctx = self.param, contextlib.nullcontext()
        views = full[: self.numel].split(self.sizes)
        params = {s.name: v.view(shape) for s, v, shape in zip(self.specs, views, self.shapes)}
        return params, ctx

    # ------------------------------------------------------------------ gradient sync
    def zero_grad(self) -> None:
        self.param.grad = None
        self._grad = None

    def _local_grad(self) -> torch.Tensor:
        if self.param.grad is None:
            self.param.grad = torch.zeros_like(self.param)
        return self.param.grad

    def _ranges_in_local(self, ranges):
        """Ranges relative to the stored gradient (the full bucket, or the shard for zero3)."""
        if self.dp_type != "zero3":
            return ranges
        out = []
        for a, b in ranges:
            a, b = max(a, self.lo), min(b, self.hi)
            if a < b:
                out.append((a - self.lo, b - self.lo))
        return out

    def sync_tie(self) -> None:
        if self.tie_group is not None:
            self.tie_group.all_reduce_(self._local_grad())

    # ------------------------------------------------------------------ norm and update
    def grad_sq(self) -> torch.Tensor:
        """Sum of squares of the gradient elements this rank accounts for in the global norm."""
        total = torch.zeros((), dtype=torch.float64, device=self.param.device)
        if self.sharded_states:
            base = self.lo
        else:
            if self.dp_group.rank != 0:
                return total
            base = 0
        end = base + self._grad.numel()
        for a, b in self.count_ranges:
            a, b = max(a, base), min(b, end)
            if a < b:
                total += self._grad[a - base : b - base].double().pow(2).sum()
        return total

    @torch.no_grad()
    def update(self, coef: float, cfg: AdamConfig) -> None:
        g = self._grad
        g.mul_(coef)
        self.step += 1
        if self.dp_type == "zero3":
            adam_(self.param.data, g, self.exp_avg, self.exp_avg_sq, self.step, cfg)
        elif self.sharded_states:  # zero1/zero2: the slices are all-gathered by optimizer_step() below
            adam_(self.param.data[self.lo : self.hi], g, self.exp_avg, self.exp_avg_sq, self.step, cfg)
        else:
            adam_(self.param.data, g, self.exp_avg, self.exp_avg_sq, self.step, cfg)
        self.zero_grad()

    # ------------------------------------------------------------------ full tensors and checkpoints
    @torch.no_grad()
    def local_full(self) -> dict[str, torch.Tensor]:
        """This rank's TP shards as full (DP-gathered) tensors."""
        if self.dp_type == "zero3":
            flat = self.dp_group.all_gather_flat_(self.param.new_empty(self.padded), self.param.data)
        else:
            flat = self.param.data
        views = flat[: self.numel].split(self.sizes)
        return {s.name: v.view(shape) for s, v, shape in zip(self.specs, views, self.shapes)}

    @torch.no_grad()
    def gather_full(self) -> dict[str, torch.Tensor]:
        """Unsharded tensors (gathered over DP and TP); every member of the groups gets them."""
        out = {}
        for s, t in zip(self.specs, self.local_full().values()):
            if s.tp_dim is not None and self.tp_group.size > 1:
                t = self.tp_group.all_gather_cat(t.contiguous(), s.tp_dim)
            out[s.name] = t.detach().to("cpu", copy=True)
        return out

    def state_dict(self) -> dict:
        return {
            "param": self.param.data.detach().cpu().clone(),
            "exp_avg": self.exp_avg.cpu().clone(),
            "exp_avg_sq": self.exp_avg_sq.cpu().clone(),
            "step": self.step,
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        for key, dst in (("param", self.param.data), ("exp_avg", self.exp_avg), ("exp_avg_sq", self.exp_avg_sq)):
            src = state[key]
            if tuple(src.shape) != tuple(dst.shape):
                raise ValueError(f"checkpoint {self.name}.{key}: shape {tuple(src.shape)} != {tuple(dst.shape)}")
            dst.copy_(src)
        self.step = int(state["step"])


def _runs(units: list[Unit], key) -> list[tuple[object, list[Unit]]]:
    """Maximal runs of consecutive units with the same key.

    Buckets span several layers when consecutive layers share the group (one collective instead of one
    per layer). Runs are computed over the full unit list with a key that contains the group's ranks:
    every member of a group then forms exactly the same runs (if q shares unit k's group with r, the key
    of k is equal on q and r), so the merged collectives match across ranks.
    """
    out: list[tuple[object, list[Unit]]] = []
    for u in units:
        k = key(u)
        if out and out[-1][0] == k:
            out[-1][1].append(u)
        else:
            out.append((k, [u]))
    return out


def _sync_sp(run: list[Unit]) -> None:
    pieces = [(u, a, b) for u in run for a, b in u._ranges_in_local(u.sp_ranges)]
    if not pieces:
        return
    flat = torch.cat([u._local_grad()[a:b] for u, a, b in pieces])
    run[0].tp_group.all_reduce_(flat)
    off = 0
    for u, a, b in pieces:
        u._local_grad()[a:b] = flat[off : off + b - a]
        off += b - a


def _sync_dp(run: list[Unit], dp_type: str) -> None:
    group = run[0].dp_group
    grads = [u._local_grad() for u in run]
    if dp_type == "zero3":  # GatherFlat's backward already reduce-scattered every micro-batch
        for u, g in zip(run, grads):
            u._grad = g
        return
    if dp_type in ("ddp", "zero1"):
        flat = group.all_reduce_(torch.cat(grads)) if len(run) > 1 else group.all_reduce_(grads[0])
        off = 0
        for u, g in zip(run, grads):
            full = flat[off : off + g.numel()]
            off += g.numel()
            u._grad = full if dp_type == "ddp" else full[u.lo : u.hi]
        return
    # zero2: one reduce-scatter of the buckets laid out rank by rank ([dp, Σ slice lengths])
    dp = group.size
    stacked = torch.cat([g.view(dp, -1) for g in grads], dim=1)
    mine = zero.reduce_scatter_flat(stacked.reshape(-1), group)
    off = 0
    for u in run:
        n = u.hi - u.lo
        u._grad = mine[off : off + n]
        off += n
        u.param.grad = None  # only this rank's slice of the gradient is kept


def sync_gradients(units: list[Unit]) -> None:
    """SP partial sums over TP, tied copies, then DP; each phase bucketed over runs of layers."""
    for (ranks, has_sp), run in _runs(units, lambda u: (u.tp_group.ranks, bool(u.sp_ranges))):
        if has_sp:
            _sync_sp(run)
    for u in units:
        u.sync_tie()
    for (ranks, dp_type), run in _runs(units, lambda u: (u.dp_group.ranks, u.dp_type)):
        _sync_dp(run, dp_type)


@torch.no_grad()
def optimizer_step(units: list[Unit], coef: float, cfg: AdamConfig) -> None:
    """Adam on what each rank owns; zero1/zero2 then all-gather the updated slices, bucketed."""
    for u in units:
        u.update(coef, cfg)
    for (ranks, dp_type), run in _runs(units, lambda u: (u.dp_group.ranks, u.dp_type)):
        if dp_type not in ("zero1", "zero2") or run[0].dp_group.size == 1:
            continue
        group = run[0].dp_group
        dp = group.size
        mine = torch.cat([u.param.data[u.lo : u.hi] for u in run])
        out = mine.new_empty(dp * mine.numel())
        group.all_gather_flat_(out, mine)
        out = out.view(dp, -1)
        off = 0
        for u in run:
            n = u.hi - u.lo
            u.param.data.view(dp, n).copy_(out[:, off : off + n])
            off += n
