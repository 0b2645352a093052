"""Data parallelism per layer: one flat bucket of the layer's parameters, synchronised over its DP group.

A ``Unit`` is the parameters of one layer (or of one part of the embedding/head) on this rank: the TP
shards of its ParamSpecs, flattened into one contiguous bucket (padded to a multiple of dp). Forward uses
views of the bucket, so the gradients of all micro-batches accumulate straight into one flat gradient.
Synchronisation happens once per step, after the last micro-batch, with one collective per run of
consecutive layers that share the group (``_runs``); zero2 and zero3 reduce-scatter every micro-batch
instead (zero.py), so that no rank holds a whole accumulated gradient:

  1. SP: replicated weights used inside the sequence-parallel region saw only their rank's tokens; their
     gradient elements are summed over the TP group.
  2. Tied embeddings (pipeline > 1): the word embedding's copies on the first and last stage are summed
     over their pair group (Megatron's embedding group); T5's relative-position tables, of which every
     rank holds a copy, over the world (t5.py).
  3. DP: ddp and zero1 all-reduce the buckets; zero2 and zero3 already hold their reduce-scattered
     slice (zero.py explains the three ZeRO stages).

Gradients are SUMMED over DP, not averaged: the loss of every micro-batch is already divided by the
number of tokens in the global batch, so the sum is the gradient of the global mean loss.

Why our own and not DistributedDataParallel: DDP wraps one module with one process group and hooks
every backward; here each layer has its own DP group (and type) inside a pipeline stage, gradients
accumulate over micro-batches of a schedule we run ourselves, and sync happens once per step.
"""
from __future__ import annotations

import math

import torch

from . import kernels, memory, zero
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
        master_dtype: torch.dtype | None = None,
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
        master_dtype = master_dtype or dtype
        self.lo, self.hi = zero.shard_bounds(self.padded, dp_group)
        self.sharded_states = dp_type in ("zero1", "zero2", "zero3")
        # The working copy (forward, backward, gradients) is the autograd leaf: the whole bucket, or its
        # 1/dp slice with zero3. Mixed precision (bf16) adds an fp32 master of the part this rank updates
        # (its slice under ZeRO): the 2 + 2 + 12 bytes per parameter of Megatron and ZeRO.
        owned = flat[self.lo : self.hi] if self.sharded_states else flat
        working = flat[self.lo : self.hi] if dp_type == "zero3" else flat
        self.param = torch.nn.Parameter(working.to(device=device, dtype=dtype).clone())
        self.master = owned.to(device=device, dtype=master_dtype).clone() if master_dtype != dtype else None
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
        state_len = self.hi - self.lo if self.sharded_states else self.padded
        self.exp_avg = torch.zeros(state_len, dtype=master_dtype, device=device)
        self.exp_avg_sq = torch.zeros(state_len, dtype=master_dtype, device=device)
        self.step = 0
        self._grad: torch.Tensor | None = None  # the gradient this rank owns after sync
        # zero2: each micro-batch's bucket gradient is reduce-scattered into this slice right away.
        self.grad_shard: torch.Tensor | None = None
        self.grad_bytes_held = 0
        self.shard_grads = dp_type == "zero3" or (dp_type == "zero2" and dp > 1)
        if dp_type == "zero2" and dp > 1:
            self.param.register_post_accumulate_grad_hook(self._reduce_scatter_now)

    def _reduce_scatter_now(self, param: torch.Tensor) -> None:
        g = param.grad
        memory.transient("zero2-bucket-gradient", g.numel() * g.element_size())
        mine = zero.reduce_scatter_flat(g, self.dp_group)
        if self.grad_shard is None:
            self.grad_shard = mine
        else:
            self.grad_shard.add_(mine)
        param.grad = None

    # ------------------------------------------------------------------ memory
    def tensors(self) -> list[torch.Tensor]:
        """The unit's long-lived tensors (parameters, master, Adam states): not activations."""
        return [t for t in (self.param, self.master, self.exp_avg, self.exp_avg_sq) if t is not None]

    def state_bytes(self) -> int:
        """Bytes this unit holds across a step: working copy, master, Adam states and the gradient
        buffer as it was held (full bucket, or this rank's slice under zero2/zero3)."""
        held = sum(t.numel() * t.element_size() for t in self.tensors())
        grad = self.grad_bytes_held
        if grad == 0:  # before the first backward: what the gradient buffer will be
            n = self.hi - self.lo if self.shard_grads else self.param.numel()
            grad = n * self.param.element_size()
        return held + grad

    # ------------------------------------------------------------------ forward
    def materialize(self, hooks: bool = True):
        """(name -> parameter view, ZeRO-3 packer or None for the forward's saved-tensor hooks)."""
        packer = None
        # zero3 over a sync group of one holds the whole bucket: used in place, as the cost model prices it
        # (no gather; a gathered copy would be a second bucket, kept for backward as an activation).
        if self.dp_type == "zero3" and self.dp_group.size > 1:
            full = zero.GatherFlat.apply(self.param, self.dp_group, self.padded)
            memory.transient("zero3-gathered-bucket", 2 * full.numel() * full.element_size())
            if hooks and self.dp_group.size > 1:
                packer = zero.zero3_packer(full, self.param, self.dp_group, self.padded)
        else:
            full = self.param
        views = full[: self.numel].split(self.sizes)
        params = {s.name: v.view(shape) for s, v, shape in zip(self.specs, views, self.shapes)}
        return params, packer

    # ------------------------------------------------------------------ gradient sync
    def zero_grad(self) -> None:
        self.param.grad = None
        self.grad_shard = None
        self._grad = None

    def _local_grad(self) -> torch.Tensor:
        """The gradient as backward left it: the full bucket, or this rank's slice (zero2/zero3)."""
        if self.dp_type == "zero2" and self.shard_grads:
            if self.grad_shard is None:
                self.grad_shard = torch.zeros(self.hi - self.lo, dtype=self.param.dtype, device=self.param.device)
            g = self.grad_shard
        else:
            if self.param.grad is None:
                self.param.grad = torch.zeros_like(self.param)
            g = self.param.grad
        self.grad_bytes_held = max(self.grad_bytes_held, g.numel() * g.element_size())
        return g

    def _ranges_in_local(self, ranges):
        """Ranges relative to the stored gradient (the full bucket, or the slice when sharded)."""
        if not self.shard_grads:
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

    def nonfinite(self) -> torch.Tensor:
        """1.0 (float64, 0-d) if the gradient this rank holds after sync has an inf or NaN, else 0.0.

        Every element this rank holds is checked (not only those it counts in the norm): an overflow
        on any rank must skip the step everywhere (loss_scale.py)."""
        return torch.isfinite(self._grad).logical_not().any().to(torch.float64)

    def _adam_inputs(self, coef: float, inv_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Counts the step and returns (the tensor Adam updates, its gradient g · inv_scale · coef):
        unscaled (loss scaling), then clipped. With a master copy the gradient is first cast to the master
        dtype: a scaled fp16 gradient multiplied by 1/S in fp16 would flush its small elements to zero, the
        underflow loss scaling avoids."""
        g = self._grad
        self.step += 1
        if self.master is None:
            if inv_scale != 1.0:
                g.mul_(inv_scale)
            g.mul_(coef)
            return self._owned(), g
        if inv_scale != 1.0:
            g = g.to(self.master.dtype).mul_(inv_scale).mul_(coef)
        else:  # bf16 as before: clipped in the working dtype, then cast
            g = g.mul_(coef).to(self.master.dtype)
        return self.master, g

    def _owned(self) -> torch.Tensor:
        """The part of the working copy this rank updates."""
        if self.dp_type == "zero3" or not self.sharded_states:
            return self.param.data
        return self.param.data[self.lo : self.hi]

    def _finish_update(self) -> None:
        """The working copy takes the updated master (once per step: the 16-bit copy forward uses is this
        one, never re-cast per micro-batch); zero1/zero2's owned slices are all-gathered by optimizer_step()."""
        if self.master is not None:
            self._owned().copy_(self.master)
        self.zero_grad()

    @torch.no_grad()
    def update(self, coef: float, cfg: AdamConfig, inv_scale: float = 1.0) -> None:
        """Adam (optim.adam_, written out) on what this rank owns; see _adam_inputs for the gradient."""
        target, g = self._adam_inputs(coef, inv_scale)
        adam_(target, g, self.exp_avg, self.exp_avg_sq, self.step, cfg)
        self._finish_update()

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

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        out = {"param": self.param.data, "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}
        if self.master is not None:
            out["master"] = self.master
        return out

    def state_dict(self) -> dict:
        state = {key: t.detach().cpu().clone() for key, t in self._state_tensors().items()}
        state["step"] = self.step
        return state

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        for key, dst in self._state_tensors().items():
            if key not in state:
                raise ValueError(f"checkpoint {self.name}: no {key} (written with another --dtype?)")
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
    if run[0].shard_grads:  # zero3 (GatherFlat's backward) and zero2 (its hook) reduce-scattered already
        for u, g in zip(run, grads):
            u._grad = g
        return
    # ddp and zero1 all-reduce; zero2 over a group of one keeps its whole (one-slice) bucket
    flat = group.all_reduce_(torch.cat(grads)) if len(run) > 1 else group.all_reduce_(grads[0])
    off = 0
    for u, g in zip(run, grads):
        full = flat[off : off + g.numel()]
        off += g.numel()
        u._grad = full if dp_type == "ddp" else full[u.lo : u.hi]


def sync_gradients(units: list[Unit]) -> None:
    """SP partial sums over TP, tied copies, then DP; each phase bucketed over runs of layers."""
    for (ranks, has_sp), run in _runs(units, lambda u: (u.tp_group.ranks, bool(u.sp_ranges))):
        if has_sp:
            _sync_sp(run)
    # Tied copies: the world-wide ones first (T5's relative-position tables, t5.py), then the pairs (the
    # word embedding's), so that every rank issues them in one order and no two ranks wait on each other.
    tied = [u for u in units if u.tie_group is not None]
    for u in sorted(tied, key=lambda u: (-u.tie_group.size, u.tie_group.ranks)):
        u.sync_tie()
    for (ranks, dp_type), run in _runs(units, lambda u: (u.dp_group.ranks, u.dp_type)):
        _sync_dp(run, dp_type)


@torch.no_grad()
def optimizer_step(units: list[Unit], coef: float, cfg: AdamConfig, inv_scale: float = 1.0) -> None:
    """Adam on what each rank owns; zero1/zero2 then all-gather the updated slices, bucketed. With fused
    kernels (kernels.py) one torch._fused_adam_ call per dtype and device updates every unit."""
    if kernels.fused():
        lists: dict[tuple, list] = {}
        for u in units:
            target, g = u._adam_inputs(coef, inv_scale)
            lists.setdefault((target.device, target.dtype), []).append((u, target, g))
        for items in lists.values():
            kernels.fused_adam_(
                [t for _, t, _ in items],
                [g for _, _, g in items],
                [u.exp_avg for u, _, _ in items],
                [u.exp_avg_sq for u, _, _ in items],
                [u.step for u, _, _ in items],
                cfg,
            )
        for u in units:
            u._finish_update()
    else:
        for u in units:
            u.update(coef, cfg, inv_scale)
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
