"""Memory accounting: what a rank actually holds, counted from the tensors themselves.

Three parts, the same three the cost model predicts (src/cost/layer-memory.ts):
  - model states: the bytes of every unit's parameters, master copy, gradient buffer and Adam states
    (data_parallel.Unit.state_bytes), after ZeRO sharding;
  - activations: every tensor autograd saves for backward goes through ``saved_tensors_hooks`` installed
    around each layer, the embedding and the head (``saved_tensor_hooks`` below); it is counted once per
    storage per micro-batch (a tensor saved by two ops, or viewed twice, is one allocation), under the
    label of the unit that saved it first. Tensors that checkpointing keeps alive itself (the input of
    a fully recomputed layer, the q, k, v of a selectively recomputed core) are passed to ``record``.
    Storages of parameters and tables (``exclude``) are not activations.
  - transients: buffers that live only while one unit runs (logits, ZeRO gathers and bucket gradients),
    reported by the code that allocates them (``transient``).

Live saved bytes are tracked over time (weak references tell when the graph lets a saved tensor go), so
the peak over a step's schedule shows how many micro-batches were really in flight. On CPU the accounted
peak is model states + peak live activations + the largest transient; on CUDA the allocator's own
peaks are reported too.
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Callable

import torch

# A packer turns a saved tensor into a stand-in (ZeRO-3 markers) or returns None to keep it.
Packer = Callable[[torch.Tensor], object]


def _storage(t: torch.Tensor) -> tuple[int, int]:
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


class Accountant:
    def __init__(self) -> None:
        self.excluded: set[int] = set()
        self.label = "unlabelled"
        self.micro = 0
        self.per_micro: dict[int, dict[str, int]] = {}
        self._seen: dict[int, set[int]] = {}
        self._live: dict[int, list[int]] = {}  # storage ptr -> [bytes, references]
        self.live_bytes = 0
        self.peak_live_bytes = 0
        self.transients: dict[str, int] = {}

    def reset_step(self) -> None:
        self.per_micro.clear()
        self._seen.clear()
        self.transients.clear()
        self.peak_live_bytes = self.live_bytes

    def exclude(self, tensors) -> None:
        for t in tensors:
            if isinstance(t, torch.Tensor) and t.numel():
                self.excluded.add(_storage(t)[0])

    def record(self, t: torch.Tensor) -> None:
        """Counts ``t`` as saved for backward by the current label and micro-batch."""
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            return
        ptr, nbytes = _storage(t)
        if ptr == 0 or ptr in self.excluded:
            return
        seen = self._seen.setdefault(self.micro, set())
        if ptr not in seen:
            seen.add(ptr)
            by_label = self.per_micro.setdefault(self.micro, {})
            by_label[self.label] = by_label.get(self.label, 0) + nbytes
        entry = self._live.get(ptr)
        if entry is None:
            self._live[ptr] = [nbytes, 1]
            self.live_bytes += nbytes
            self.peak_live_bytes = max(self.peak_live_bytes, self.live_bytes)
        else:
            entry[1] += 1
        weakref.finalize(t, self._release, ptr)

    def _release(self, ptr: int) -> None:
        entry = self._live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self._live[ptr]
            self.live_bytes -= entry[0]

    def transient(self, name: str, nbytes: int) -> None:
        self.transients[name] = max(self.transients.get(name, 0), int(nbytes))

    @contextlib.contextmanager
    def scope(self, label: str, micro: int | None = None):
        old = (self.label, self.micro)
        self.label = label
        if micro is not None:
            self.micro = micro
        try:
            yield
        finally:
            self.label, self.micro = old

    def activation_bytes(self, micro: int = 0) -> dict[str, int]:
        return dict(self.per_micro.get(micro, {}))


_current: Accountant | None = None


def install(accountant: Accountant | None) -> None:
    global _current
    _current = accountant


def current() -> Accountant | None:
    return _current


@contextlib.contextmanager
def scope(label: str, micro: int | None = None):
    """Labels what is saved inside (a unit's name; the micro-batch for a chunk's forward)."""
    if _current is None:
        yield
        return
    with _current.scope(label, micro):
        yield


def record(*tensors) -> None:
    if _current is not None:
        for t in tensors:
            _current.record(t)


def transient(name: str, nbytes: int) -> None:
    if _current is not None:
        _current.transient(name, nbytes)


def exclude(tensors) -> None:
    if _current is not None:
        _current.exclude(tensors)


class AliasPacker:
    """Saved tensors that alias ``full`` are replaced by markers; backward rebuilds ``full`` with
    ``rebuild()`` at its first use and frees it after the last. Used for a ZeRO-3 layer's gathered bucket
    (rebuilt by all-gathering the shard again) and for the sequence-parallel gather that feeds the
    column-parallel linears (the linears keep the local shard; the full sequence is gathered again in
    backward, as Megatron does). ``keep`` is what the rebuild needs (an activation: counted here)."""

    def __init__(self, full: torch.Tensor, rebuild: Callable[[], torch.Tensor], keep: torch.Tensor | None = None):
        self.ptr = full.untyped_storage().data_ptr()
        self.device = full.device
        # Held until the forward region ends: a freed ``full`` could hand its address to a later tensor,
        # which this packer would then take for an alias.
        self.full: torch.Tensor | None = full
        self.rebuild, self.keep = rebuild, keep
        self.pending = 0
        self.cached: torch.Tensor | None = None
        self.freed = False

    def pack(self, t: torch.Tensor):
        if t.device != self.device or t.untyped_storage().data_ptr() != self.ptr:
            return None
        if self.keep is not None and _current is not None:
            _current.record(self.keep)
        self.pending += 1
        return (t.storage_offset(), tuple(t.shape), tuple(t.stride()))

    def close(self) -> None:
        self.full = None

    def unpack(self, marker) -> torch.Tensor:
        if self.cached is None:
            self.cached = self.rebuild()
        offset, size, stride = marker
        out = torch.as_strided(self.cached, size, stride, offset)
        self.pending -= 1
        if self.pending == 0:
            self.cached = None  # the views keep the storage alive only as long as autograd needs them
            self.freed = True
        return out


_regions: list[list] = []


def add_packer(packer: AliasPacker) -> None:
    """Adds a packer to the innermost saved-tensor region (no-op outside one, e.g. under checkpointing)."""
    if _regions:
        _regions[-1].append(packer)


class _Packed:
    __slots__ = ("packer", "obj")

    def __init__(self, packer, obj):
        self.packer, self.obj = packer, obj


@contextlib.contextmanager
def saved_tensor_hooks(packers=()):
    """One saved-tensor hook pair for a unit's forward: packers first (they replace tensors that alias a
    gathered buffer; ``add_packer`` adds more while the region runs), every other saved tensor is counted
    and kept as it is. Only the innermost hooks apply in PyTorch, so a forward region installs exactly
    one of these."""
    region = [p for p in packers if p is not None]

    def pack(t: torch.Tensor):
        for p in region:
            obj = p.pack(t)
            if obj is not None:
                return _Packed(p, obj)
        if _current is not None:
            _current.record(t)
        return t

    def unpack(obj):
        if isinstance(obj, _Packed):
            return obj.packer.unpack(obj.obj)
        return obj

    _regions.append(region)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            yield
    finally:
        _regions.pop()
        for p in region:
            p.close()


def cuda_peaks(device: torch.device) -> dict:
    if device.type != "cuda":
        return {}
    return {
        "maxAllocated": int(torch.cuda.max_memory_allocated(device)),
        "maxReserved": int(torch.cuda.max_memory_reserved(device)),
    }
