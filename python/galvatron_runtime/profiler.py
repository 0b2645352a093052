"""Profile this machine with the executor's own layers:
``torchrun --nproc-per-node N -m galvatron_runtime.profiler --job job.json``.

What is timed is what ``galvatron train`` runs: for every variant of the job (TP degree, sequence
parallelism, recomputation) a one-layer plan is built and handed to the executor (executor.py), and its
``LayerRunner``, ``Embedding`` and ``Head`` (model.py's layer_forward / embed_forward / head_forward over
data_parallel.Unit parameter buckets) run forward and backward at each micro-batch size. Memory per unit
comes from the executor's own accounting (memory.py). Then the collectives the executor uses (comm.py) are
timed over groups of adjacent ranks, and a GEMM and an all-reduce are run alone and together as the
executor issues them (the overlap slow-down λ of src/cost/overlap.ts).

The job (written by ``galvatron profile``, src/runtime/profile-job.ts) fixes everything to measure:
  {"model": {ModelSpec fields}, "seqLen": s, "device": "cpu"|"cuda", "dtype": ..., "seed": 0,
   "microBatches": [1, 2, 4], "layerVariants": [{"tp", "sequenceParallel", "recompute"}],
   "endVariants": [{"tp", "sequenceParallel"}], "warmup": w, "repeats": r, "sweeps": k (default 1),
   "collectives": {"kinds": [...], "groupSizes": [...], "sizes": [bytes...]}, "overlap": bool,
   "optimizer": bool (default false), "window": n (default 1)}
Each timed run of a layer, embedding or head covers at least ``window`` samples: ceil(window / b) copies
of the micro-batch of b, forwards back to back, then their backwards, as a stage runs its layers and
micro-batches in a training step; the time reported is per copy. The optimizer step is repeated
``window`` times likewise. Why: a run of one small micro-batch is shorter than a scheduler time slice,
and on CPU ranks that share cores a rank starts its clock only once it holds a core, so it never sees the
other ranks' share of the cores that a training step waits through (micro-batches of 1 sample came out
2.5x too fast per sample against 16, with 8 ranks on 2 cores). On a GPU the copies let kernel launches
overlap the device's work as they do in a step, where a lone synchronised run pays every launch.
The layer, embedding and head points are measured in k sweeps over all of them (each sweep: w warm-up
runs and r timed runs per point), so that every point's median draws from the whole profile's duration:
on CPU ranks that share cores with each other and with other work, a slow spell then touches a few of
each point's runs instead of all runs of a few points.

stdout: JSON lines from rank 0 only (report.py), in this order:
  {"event":"machine","hostname":..,"device":..,"deviceName":..,"torch":..,"backend":..,"ranks":..,
   "threadsPerRank":..,"python":..}
  {"event":"progress","done":k,"total":N,"what":text}           (before each measurement)
  {"event":"time","unit":"layer"|"embedding"|"head","tp":..,"sequenceParallel":..,"recompute":..,
   "microBatch":b,"forwardS":..,"backwardS":..}                  (median over runs, max over ranks)
  {"event":"memory","unit":..,"tp":..,"sequenceParallel":..,"recompute":..,"microBatch":b,
   "modelStateBytes":..,"activationBytes":..}                    (rank 0's accounted bytes)
  {"event":"collective","kind":..,"groupSize":n,"bytes":B,"timeS":t[,"emulated":true]}
  {"event":"skip","what":..,"reason":..}                          (a collective the backend lacks)
  {"event":"overlap","computeS":C,"commS":B,"overlappedS":T}
  {"event":"optimizer","parameters":N,"stepS":t}                 (the executor's optimizer step on N params)
  {"event":"end","wallTimeS":..}
Times are each rank's median over the timed runs of every sweep (each run starts on all ranks together,
after a barrier), then the slowest rank's (what a step waits for). Time events come after all sweeps,
memory events during the first. Logs go to stderr; a bad job exits with code 2 and one line (rank 0).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import time

import torch
import torch.distributed as dist

from . import comm, memory, report
from .comm import GroupCache, probe_collectives
from .device import SetupError, check_torch_version, choose_device, die_with_launcher, init_distributed, precision, synchronize
from .executor import Executor, RunConfig, create_groups
from .optim import AdamConfig
from .plan import PlanError, parse_plan

KINDS = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "p2p")
# Buffers at or above this size are timed fewer times (a 256 MiB all-gather is slow on CPU).
LARGE_BYTES = 16 << 20


# ---------------------------------------------------------------------------------------------------
# The job and the one-layer plans built from it


def load_job(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SetupError(f"--job {path}: {e}") from None
    for key in ("model", "seqLen", "device", "dtype", "microBatches", "layerVariants", "endVariants", "warmup", "repeats"):
        if key not in job:
            raise SetupError(f"--job {path}: missing {key!r}")
    unknown = [k for k in (job.get("collectives") or {}).get("kinds", []) if k not in KINDS]
    if unknown:
        raise SetupError(f"--job {path}: unknown collective(s) {unknown}; expected {', '.join(KINDS)}")
    window = job.get("window", 1)
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 1024:
        raise SetupError(f"--job {path}: window must be an integer from 1 to 1024, got {window!r}")
    return job


def one_layer_plan(job: dict, world: int, tp: int, sp: bool, recompute: str, end_tp: int, end_sp: bool) -> dict:
    """A galvatron.plan/v1 plan of the job's model cut to one layer on ``world`` ranks: the layer under
    (tp, sp, recompute), the embedding and head under (end_tp, end_sp), DDP over the rest of the ranks."""
    model = dict(job["model"], layers=1)

    def strategy(t: int, s: bool, rc: str) -> dict:
        return {"tp": t, "cp": 1, "dp": world // t, "sequenceParallel": s, "dpType": "ddp", "recompute": rc, "tpConsecutive": True}

    dp_max = world  # the global batch must split over every DP degree used
    return {
        "format": "galvatron.plan/v1",
        "model": model,
        "training": {"globalBatch": dp_max, "microBatches": 1, "seqLen": job["seqLen"], "precision": "fp32", "dropout": False},
        "pipeline": {"degree": 1, "virtualStages": 1, "schedule": "1f1b", "chunks": [{"start": 0, "end": 1}]},
        "embedding": strategy(end_tp, end_sp, "none"),
        "layers": [strategy(tp, sp, recompute)],
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def group_blocks(world: int, size: int) -> list[tuple[int, ...]]:
    """Consecutive rank blocks of ``size`` (adjacent ranks, as TP groups are placed)."""
    return [tuple(range(b, b + size)) for b in range(0, world - world % size, size)]


# ---------------------------------------------------------------------------------------------------
# Measuring


class Profiler:
    def __init__(self, job: dict, rank: int, world: int, device: torch.device, groups: GroupCache):
        self.job, self.rank, self.world, self.device, self.groups = job, rank, world, device, groups
        self.prec = precision(job["dtype"])
        self.distributed = world > 1
        self.done = 0
        self.total = 0

    # ---- helpers
    def emit(self, obj: dict) -> None:
        if self.rank == 0:
            report.emit(obj)

    def progress(self, what: str) -> None:
        self.emit({"event": "progress", "done": self.done, "total": self.total, "what": what})
        self.done += 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def slowest(self, *values: float) -> list[float]:
        """Each value's maximum over the ranks."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.tolist()

    def timed(self, fn) -> float:
        synchronize(self.device)
        t0 = time.perf_counter()
        fn()
        synchronize(self.device)
        return time.perf_counter() - t0

    def executor(self, tp: int, sp: bool, recompute: str, end_tp: int, end_sp: bool) -> Executor:
        raw = one_layer_plan(self.job, self.world, tp, sp, recompute, end_tp, end_sp)
        try:
            plan = parse_plan(raw, self.world)
        except PlanError as e:
            raise SetupError(str(e)) from None
        create_groups(plan, self.groups)
        return Executor(plan, self.rank, self.groups, RunConfig(self.prec, self.device, int(self.job.get("seed", 0))), None)

    def count_tasks(self) -> None:
        job = self.job
        n_b = len(job["microBatches"])
        coll = job.get("collectives") or {}
        sizes = [n for n in coll.get("groupSizes", []) if 1 < n <= self.world]
        n_coll = sum(len(coll.get("sizes", [])) for n in sizes for k in coll.get("kinds", []) if k != "p2p" or n == 2)
        units = n_b * (len(job["layerVariants"]) + len(job["endVariants"])) * self.sweeps()
        self.total = units + n_coll + (1 if job.get("overlap") and self.world > 1 else 0) + (1 if job.get("optimizer") else 0)

    def sweeps(self) -> int:
        return max(1, int(self.job.get("sweeps", 1)))

    # ---- layers
    def layer_input(self, ex: Executor, b: int, sp: bool, tp: int) -> torch.Tensor:
        seq = self.job["seqLen"] // (tp if sp and tp > 1 else 1)
        gen = torch.Generator().manual_seed(1234 + b)
        x = torch.randn(b, seq, ex.plan.model.hidden, generator=gen, dtype=torch.float64) * 0.5
        return x.to(device=self.device, dtype=self.prec.param_dtype).requires_grad_(True)

    def copies(self, b: int) -> int:
        """Back-to-back copies of a micro-batch of ``b`` in one timed run (see ``window`` in the module docstring)."""
        return max(1, -(-int(self.job.get("window", 1)) // b))

    def run_layer(self, runner, x: torch.Tensor, g: torch.Tensor) -> tuple[float, float]:
        """Forward then backward of ``copies`` micro-batches, as a stage runs its layers back to back; the
        time per micro-batch."""
        runner.unit.zero_grad()
        x.grad = None
        k = self.copies(x.shape[0])
        ys = []

        def fwd():
            for _ in range(k):
                ys.append(runner(x))

        def bwd():
            for y in ys:
                y.backward(g)

        f = self.timed(fwd)
        b = self.timed(bwd)
        return f / k, b / k

    def measure_layer(self, variant: dict, runs: dict, with_memory: bool) -> None:
        """One sweep over the variant's micro-batch sizes; its timed runs are added to ``runs``."""
        tp, sp, rc = variant["tp"], bool(variant["sequenceParallel"]), variant["recompute"]
        ex = self.executor(tp, sp, rc, 1, False)
        runner = ex.layer_runners[0]
        bs = self.job["microBatches"]
        for b in bs:
            self.progress(f"layer tp{tp}{' sp' if sp else ''} {rc} recompute, micro-batch {b}")
            x = self.layer_input(ex, b, sp, tp)
            g = torch.randn_like(x)
            key = ("layer", tp, sp, rc, b)
            for i in range(self.job["warmup"] + self.job["repeats"]):
                self.barrier()
                f, bk = self.run_layer(runner, x, g)
                if i >= self.job["warmup"]:
                    runs.setdefault(key, []).append((f, bk))
        if not with_memory:
            return
        # Memory at the largest micro-batch: the executor's own accounting of one forward.
        b = bs[-1]
        x = self.layer_input(ex, b, sp, tp)
        runner.unit.zero_grad()
        acc = self.accountant(ex)
        memory.install(acc)
        try:
            y = runner(x)
        finally:
            memory.install(None)
        y.backward(torch.ones_like(y))
        self.emit(
            {
                "event": "memory", "unit": "layer", "tp": tp, "sequenceParallel": sp, "recompute": rc, "microBatch": b,
                "modelStateBytes": runner.unit.state_bytes(), "activationBytes": acc.activation_bytes(0).get("layers.0", 0),
            }
        )

    def accountant(self, ex: Executor) -> memory.Accountant:
        acc = memory.Accountant()
        acc.exclude(t for u in ex.units for t in u.tensors())
        if ex.rope is not None:
            acc.exclude(ex.rope)
        return acc

    # ---- embedding and head
    def tokens(self, ex: Executor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(99 + b)
        vocab, seq = ex.plan.model.vocab, self.job["seqLen"]
        x = torch.randint(0, vocab, (b, seq), generator=gen)
        y = torch.randint(0, vocab, (b, seq), generator=gen)
        return x.to(self.device), y.to(self.device)

    def run_ends(self, ex: Executor, tokens: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float, float]:
        """Each phase of ``copies`` micro-batches back to back (as ``run_layer``); times per micro-batch."""
        for u in ex.units:
            u.zero_grad()
        k = self.copies(tokens.shape[0])
        xs, hs, losses = [], [], []

        def embed():
            for _ in range(k):
                xs.append(ex.embedding(tokens))

        def head():
            for x in xs:
                hs.append(x.detach().requires_grad_(True))
                losses.append(ex.head(hs[-1], labels))

        def head_backward():
            for loss in losses:
                loss.backward()

        def embed_backward():
            for x, h in zip(xs, hs):
                x.backward(h.grad)

        ef = self.timed(embed)
        hf = self.timed(head)
        hb = self.timed(head_backward)
        eb = self.timed(embed_backward)
        return ef / k, eb / k, hf / k, hb / k

    def measure_ends(self, variant: dict, runs: dict, with_memory: bool) -> None:
        """One sweep of the embedding and head over the micro-batch sizes; timed runs go to ``runs``."""
        tp, sp = variant["tp"], bool(variant["sequenceParallel"])
        ex = self.executor(1, False, "none", tp, sp)
        bs = self.job["microBatches"]
        for b in bs:
            self.progress(f"embedding and head tp{tp}{' sp' if sp else ''}, micro-batch {b}")
            tokens, labels = self.tokens(ex, b)
            key = ("ends", tp, sp, "none", b)
            for i in range(self.job["warmup"] + self.job["repeats"]):
                self.barrier()
                r = self.run_ends(ex, tokens, labels)
                if i >= self.job["warmup"]:
                    runs.setdefault(key, []).append(r)
        if not with_memory:
            return
        b = bs[-1]
        tokens, labels = self.tokens(ex, b)
        for u in ex.units:
            u.zero_grad()
        acc = self.accountant(ex)
        memory.install(acc)
        try:
            loss = ex.head(ex.embedding(tokens), labels)
        finally:
            memory.install(None)
        loss.backward()
        saved = acc.activation_bytes(0)
        states = {"embedding": sum(u.state_bytes() for u in ex.embedding.units), "head": sum(u.state_bytes() for u in ex.head.units if u is not ex.embedding.wte)}
        for unit in ("embedding", "head"):
            self.emit(
                {
                    "event": "memory", "unit": unit, "tp": tp, "sequenceParallel": sp, "recompute": "none", "microBatch": b,
                    "modelStateBytes": states[unit], "activationBytes": saved.get(unit, 0),
                }
            )

    # ---- all unit points, in sweeps
    def measure_units(self) -> None:
        """Every layer variant and end variant at every micro-batch size, in the job's sweeps; then one time
        event per point: each rank's median over all its timed runs, the slowest rank's.

        Every run starts on all ranks together (a barrier), as a training step's layers start together
        after the previous step's collectives. On 8 CPU ranks sharing 2 cores this statistic came closest
        to the layers' time inside training steps measured minutes apart: runs back to back without
        barriers let TP groups drift into a phase where one group's collectives overlap another's
        compute, which training steps do not reach (TP layers 25-35 % faster than in training), and the
        slowest rank of each run overstates the layers of DP replicas, which wait for each other only
        once per step (20 % slower than in training)."""
        runs: dict = {}
        for sweep in range(self.sweeps()):
            for variant in self.job["layerVariants"]:
                self.measure_layer(variant, runs, sweep == 0)
            for variant in self.job["endVariants"]:
                self.measure_ends(variant, runs, sweep == 0)
        for (unit, tp, sp, rc, b), samples in runs.items():  # insertion order: the same on every rank
            common = {"event": "time", "tp": tp, "sequenceParallel": sp, "recompute": rc, "microBatch": b}
            width = len(samples[0])
            times = self.slowest(*(median([r[j] for r in samples]) for j in range(width)))
            if unit == "layer":
                self.emit({**common, "unit": "layer", "forwardS": times[0], "backwardS": times[1]})
            else:
                self.emit({**common, "unit": "embedding", "forwardS": times[0], "backwardS": times[1]})
                self.emit({**common, "unit": "head", "forwardS": times[2], "backwardS": times[3]})

    # ---- optimizer
    def measure_optimizer(self) -> None:
        """The executor's optimizer step (data_parallel.Unit: the gradient's squared norm for clipping, then
        Adam) on one whole layer's parameters, on every rank at once as in training, where the ranks share
        the memory system. The cost model prices the step as memory-bound traffic per parameter."""
        if not self.job.get("optimizer"):
            return
        self.progress("optimizer step")
        ex = self.executor(1, False, "none", 1, False)
        unit = ex.layer_runners[0].unit
        grad = torch.randn_like(unit.param) * 1e-3
        cfg = AdamConfig()

        copies = self.copies(1)

        def steps():
            for _ in range(copies):
                unit._grad = grad
                unit.grad_sq()
                unit.update(1.0, cfg)

        times = []
        for i in range(self.job["warmup"] + max(3, self.job["repeats"] * self.sweeps())):
            self.barrier()
            dt = self.timed(steps) / copies
            if i >= self.job["warmup"]:
                times.append(dt)
        (t,) = self.slowest(median(times))
        self.emit({"event": "optimizer", "parameters": unit.param.numel(), "stepS": t})

    # ---- collectives
    def collective(self, kind: str, group: comm.Group, nbytes: int):
        """(a function running one collective of ``nbytes`` on ``group``, whether it is emulated)."""
        n = group.size
        el = 4
        dev = self.device
        if kind == "all-reduce":
            buf = torch.zeros(nbytes // el, dtype=torch.float32, device=dev)
            return (lambda: dist.all_reduce(buf, group=group.pg)), False
        if kind == "all-gather":
            out = torch.zeros(nbytes // el, dtype=torch.float32, device=dev)
            shard = torch.zeros(nbytes // el // n, dtype=torch.float32, device=dev)
            return (lambda: comm._all_gather_into(out, shard, group=group.pg)), False
        if kind == "reduce-scatter":
            src = torch.zeros(nbytes // el, dtype=torch.float32, device=dev)
            if comm.HAVE_REDUCE_SCATTER:
                out = torch.zeros(nbytes // el // n, dtype=torch.float32, device=dev)
                return (lambda: comm._reduce_scatter_into(out, src, group=group.pg)), False
            return (lambda: group.reduce_scatter_cat(src, 0)), True
        if kind == "all-to-all":
            src = torch.zeros(nbytes // el, dtype=torch.float32, device=dev)
            out = torch.empty_like(src)
            return (lambda: dist.all_to_all_single(out, src, group=group.pg)), False
        if kind == "p2p":
            # Ping-pong between the group's two ranks; one send is half the round trip (timeS is halved below).
            buf = torch.zeros(nbytes // el, dtype=torch.float32, device=dev)
            a, b = group.ranks[0], group.ranks[1]

            def pingpong():
                if self.rank == a:
                    dist.send(buf, b, group=group.pg)
                    dist.recv(buf, b, group=group.pg)
                else:
                    dist.recv(buf, a, group=group.pg)
                    dist.send(buf, a, group=group.pg)

            return pingpong, False
        raise SetupError(f"unknown collective {kind!r}")

    def measure_collectives(self) -> None:
        coll = self.job.get("collectives") or {}
        sizes = [int(s) for s in coll.get("sizes", [])]
        for n in coll.get("groupSizes", []):
            if not 1 < n <= self.world:
                continue
            blocks = group_blocks(self.world, n)
            self.groups.ensure(blocks)
            mine = next((g for g in blocks if self.rank in g), None)
            group = self.groups.get(mine) if mine else None
            for kind in coll.get("kinds", []):
                if kind == "p2p" and n != 2:
                    continue
                supported = True
                for nbytes in sizes:
                    self.progress(f"{kind} over {n} ranks, {nbytes} bytes")
                    if not supported:
                        continue
                    t, emulated, error = 0.0, False, ""
                    if group is not None:
                        try:
                            fn, emulated = self.collective(kind, group, nbytes)
                            reps = self.job["repeats"] if nbytes < LARGE_BYTES else min(2, self.job["repeats"])
                            times = []
                            for i in range(1 + reps):
                                self.barrier()
                                dt = self.timed(fn)
                                if i >= 1:
                                    times.append(dt)
                            t = median(times) / (2 if kind == "p2p" else 1)
                        except (RuntimeError, NotImplementedError, ValueError) as e:
                            error = str(e).splitlines()[0] if str(e) else type(e).__name__
                    # Every rank learns whether any failed, so all skip the kind together.
                    failed, t = self.slowest(1.0 if error else 0.0, t)
                    if failed:
                        supported = False
                        self.emit({"event": "skip", "what": f"{kind} over {n} ranks", "reason": error or "failed on another rank"})
                        continue
                    self.emit({"event": "collective", "kind": kind, "groupSize": n, "bytes": nbytes, "timeS": t, **({"emulated": True} if emulated else {})})

    # ---- overlap
    def measure_overlap(self) -> None:
        """A GEMM loop and an all-reduce of about the same length, alone and then together as the executor
        runs them: it issues every collective blocking on the rank's thread (comm.py) and computes after
        it, as a ZeRO-3 layer gathers its weights and then runs its GEMMs. Whatever overlaps then is
        what the backend overlaps on its own: on gloo nothing (the rank waits for the collective), on
        NCCL nothing either (the compute stream waits for the collective's stream). λ (overlapLambda in
        src/profile/assemble.ts) is then about 2, and the cost model exposes every collective."""
        if self.world < 2 or not self.job.get("overlap"):
            return
        self.progress("compute/communication overlap")
        cuda = self.device.type == "cuda"
        m = 4096 if cuda else 192
        dtype = self.prec.param_dtype if cuda else torch.float32
        a = torch.randn(m, m, device=self.device, dtype=dtype)
        bmat = torch.randn(m, m, device=self.device, dtype=dtype)
        buf = torch.zeros(((256 if cuda else 8) << 20) // 4, dtype=torch.float32, device=self.device)
        self.groups.ensure([tuple(range(self.world))])
        world = self.groups.get(range(self.world))
        reps = max(3, self.job["repeats"])

        def gemms(k):
            for _ in range(k):
                torch.mm(a, bmat)

        def med(fn):
            times = []
            for i in range(1 + reps):
                self.barrier()
                dt = self.timed(fn)
                if i:
                    times.append(dt)
            return median(times)

        one = med(lambda: gemms(1))
        comm_s = med(lambda: world.all_reduce_(buf))
        # The same k on every rank (the slowest rank's estimate), so the loops match in length.
        (k_f,) = self.slowest(max(1.0, round(comm_s / max(one, 1e-9))))
        k = int(min(k_f, 10000))
        compute_s = med(lambda: gemms(k))

        def both():
            world.all_reduce_(buf)
            gemms(k)

        overlapped_s = med(both)
        c, b, t = self.slowest(compute_s, comm_s, overlapped_s)
        self.emit({"event": "overlap", "computeS": c, "commS": b, "overlappedS": t, "gemmSize": m, "gemms": k, "allReduceBytes": buf.numel() * 4})


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galvatron_runtime.profiler", description="Profile the executor's layers, collectives and overlap.")
    ap.add_argument("--job", required=True)
    args = ap.parse_args(argv)
    report.install_stack_dump()
    die_with_launcher()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    t_start = time.perf_counter()
    try:
        check_torch_version()
        job = load_job(args.job)
        choice = choose_device(job["device"])
        precision(job["dtype"])
    except SetupError as e:
        report.fail(str(e), show=rank == 0)
    distributed = world > 1
    if distributed:
        init_distributed(choice)
        probe_collectives()
    groups = GroupCache(rank, distributed)
    prof = Profiler(job, rank, world, choice.device, groups)
    prof.count_tasks()
    prof.emit(
        {
            "event": "machine",
            "hostname": socket.gethostname(),
            "device": choice.device.type,
            "deviceName": device_name(choice.device),
            "torch": torch.__version__,
            "backend": choice.backend if distributed else None,
            "ranks": world,
            "threadsPerRank": torch.get_num_threads(),
            "python": platform.python_version(),
        }
    )
    try:
        prof.measure_units()
        prof.measure_optimizer()
        prof.measure_collectives()
        prof.measure_overlap()
    except SetupError as e:
        report.fail(str(e), show=rank == 0)
    prof.emit({"event": "end", "wallTimeS": time.perf_counter() - t_start})
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    report.exit_process(main())
