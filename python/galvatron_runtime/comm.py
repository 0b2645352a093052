"""Process groups and the few collectives the executor uses, over explicit groups.

A ``Group`` is a sorted list of global ranks plus the torch ProcessGroup (None when it has one member:
then every collective is the identity, which is also how the single-process reference runs with no
process group at all). Groups are created once per distinct rank set, in the same order on every rank
(torch requires every rank to call new_group for every group), and cached across plans so that the
equivalence runner can build many plans in one launch.

gloo note (checked on torch 2.13): all_reduce, all_gather, reduce_scatter (tensor form; the list form is
~6x slower), send/recv, isend/irecv with tags work; batch_isend_irecv works too but is not needed.
reduce_scatter is probed once at start-up and emulated by all_reduce + slice where missing. Object
collectives (gather_object, ...) need NumPy, which the pinned environment does not have, so
send_object/recv_object below move torch.save bytes instead.
gloo's send completes only after the peer posts the matching recv, so the pipeline only uses isend and
waits for the sends at the end of the schedule (see pipeline.py).
"""
from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist


@dataclass
class Group:
    ranks: tuple[int, ...]
    pg: object | None  # torch ProcessGroup, None for single-member groups
    rank: int  # this process's position in ``ranks`` (-1 if not a member)

    @property
    def size(self) -> int:
        return len(self.ranks)

    # ---- collectives (identity for size 1) ----
    def all_reduce_(self, t: torch.Tensor, op=None) -> torch.Tensor:
        if self.size > 1:
            dist.all_reduce(t, op=op or dist.ReduceOp.SUM, group=self.pg)
        return t

    def all_gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        if self.size == 1:
            return [t]
        t = t.contiguous()
        out = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(out, t, group=self.pg)
        return out

    def all_gather_cat(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        if self.size == 1:
            return t
        return torch.cat(self.all_gather(t), dim=dim)

    def all_gather_flat_(self, out: torch.Tensor, shard: torch.Tensor) -> torch.Tensor:
        """out (size·len(shard), contiguous) <- concatenation of every member's shard."""
        if self.size == 1:
            out.copy_(shard)
            return out
        _all_gather_into(out, shard.contiguous(), group=self.pg)
        return out

    def reduce_scatter_cat(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        """Sum over the group, keep this member's chunk along ``dim`` (t.shape[dim] divisible by size)."""
        if self.size == 1:
            return t
        if HAVE_REDUCE_SCATTER:
            # reduce_scatter_tensor splits dim 0; the list form of reduce_scatter is ~6x slower on gloo.
            src = t.movedim(dim, 0).contiguous()
            out = src.new_empty((src.shape[0] // self.size,) + tuple(src.shape[1:]))
            _reduce_scatter_into(out, src, group=self.pg)
            return out.movedim(0, dim).contiguous()
        full = t.contiguous().clone()
        dist.all_reduce(full, group=self.pg)
        return full.chunk(self.size, dim=dim)[self.rank].contiguous()


HAVE_REDUCE_SCATTER = True
# all_gather_into_tensor is deprecated in favour of all_gather_single in recent torch; use what exists.
_all_gather_into = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
_reduce_scatter_into = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor


def probe_collectives() -> None:
    """Check once (collectively, on the world group) whether this backend has reduce_scatter."""
    global HAVE_REDUCE_SCATTER
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    w = dist.get_world_size()
    dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    try:
        out = torch.zeros(1, device=dev)
        _reduce_scatter_into(out, torch.ones(w, device=dev))
        ok = abs(out.item() - w) < 1e-6
    except (RuntimeError, NotImplementedError, ValueError):
        ok = False
    flag = torch.tensor([1.0 if ok else 0.0], device=dev)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    HAVE_REDUCE_SCATTER = flag.item() == 1.0


class GroupCache:
    """new_group once per distinct rank set; identical call order on every rank."""

    def __init__(self, my_rank: int, distributed: bool):
        self.my_rank = my_rank
        self.distributed = distributed
        self._groups: dict[tuple[int, ...], Group] = {}
        self._labeled: dict[str, Group] = {}

    def ensure(self, rank_sets: Iterable[Iterable[int]]) -> None:
        for ranks in rank_sets:
            key = tuple(sorted(ranks))
            if key in self._groups:
                continue
            pg = None
            if len(key) > 1:
                if not self.distributed:
                    raise RuntimeError(f"group {key} needs torch.distributed")
                if len(key) == dist.get_world_size():
                    pg = dist.group.WORLD
                else:
                    pg = dist.new_group(list(key))
            rank = key.index(self.my_rank) if self.my_rank in key else -1
            self._groups[key] = Group(key, pg, rank)

    def ensure_labeled(self, labeled: Iterable[tuple[str, Iterable[int]]]) -> None:
        """Groups that must stay distinct from others over the same ranks (one p2p stream each)."""
        for label, ranks in labeled:
            if label in self._labeled:
                continue
            key = tuple(sorted(ranks))
            pg = dist.new_group(list(key)) if self.distributed and len(key) > 1 else None
            rank = key.index(self.my_rank) if self.my_rank in key else -1
            self._labeled[label] = Group(key, pg, rank)

    def get_labeled(self, label: str) -> Group:
        return self._labeled[label]

    def get(self, ranks: Iterable[int]) -> Group:
        key = tuple(sorted(ranks))
        if key not in self._groups:
            if len(key) > 1:  # creating it here would desynchronise new_group calls across ranks
                raise RuntimeError(f"process group {key} was not created up front")
            self.ensure([key])
        return self._groups[key]


def isend(t: torch.Tensor, dst: int, tag: int, group: Group):
    return dist.isend(t, dst, group=group.pg, tag=tag)


def recv(shape, dtype, device, src: int, tag: int, group: Group) -> torch.Tensor:
    t = torch.empty(shape, dtype=dtype, device=device)
    dist.irecv(t, src, group=group.pg, tag=tag).wait()
    return t


def send_object(obj, dst: int, device: torch.device) -> None:
    """Point-to-point send of a dict of tensors (torch.save bytes; torch's object collectives need NumPy)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8).to(device)
    dist.send(torch.tensor([payload.numel()], dtype=torch.int64, device=device), dst)
    dist.send(payload, dst)


def recv_object(src: int, device: torch.device):
    size = torch.zeros(1, dtype=torch.int64, device=device)
    dist.recv(size, src)
    payload = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    dist.recv(payload, src)
    host = payload.cpu().contiguous()
    return torch.load(io.BytesIO(ctypes.string_at(host.data_ptr(), host.numel())), weights_only=True)
