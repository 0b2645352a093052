"""Sharded, atomic, verified checkpoints.

Layout of --checkpoint-dir D:

    D/step-00000004/rank-00003.pt   one file per rank: a 4 KiB header, then the payload (torch.save of its
                                    own parameter shards, Adam states, step count, RNG and loss-scaler state)
    D/step-00000004/meta.json       format, step, world size, plan fingerprint, dtype, seed, loss scaling,
                                    and every shard: {"file","rank","bytes","sha256"}
    D/latest                        the name of the newest complete checkpoint ("step-00000004")

A checkpoint named step-K holds the state after K steps (steps 0..K-1); resuming continues at step K.
The data of step k is a pure function of (seed, k), so the step count is the whole data position.

Shard header: one canonical JSON object {"format","payloadBytes","payloadSha256","plan","rank","step"}
(sorted keys, no spaces), a newline, spaces up to byte 4095 and a newline. It is checked byte for byte
(re-rendered from its fields and compared), and the payload against its sha256, so every byte of a shard
is covered: a flipped byte, a truncated file, a shard of another rank, step or plan is named before any
rank loads anything. The payload is hashed while torch.save streams it (no second read, no in-memory
copy); the header is written last into the space reserved for it.

Saving (a collective; every rank calls save()): rank 0 removes leftovers of interrupted saves and creates
D/.tmp-step-K/; each rank writes its shard as *.part, fsyncs and renames it; rank 0 writes meta.json with
every rank's size and hash, renames the directory to D/step-K and replaces D/latest through a temporary
file and os.replace. A SIGKILL at any point leaves D/latest naming the previous complete checkpoint (the
rename of a fsynced directory comes before the pointer). An OSError on any rank (disk full, permissions)
is exchanged before the next step of the protocol, so every rank stops together with one message; the
partial save is removed and D/latest is untouched. Rank 0 does the renames, so on several nodes D must be
a shared filesystem. The last ``keep`` complete checkpoints are kept.

Resuming: every rank checks `latest`, meta.json (format, fields, the run's identity) and its own shard
(size, header, hash); the verdicts are exchanged and, if any rank found a problem, every rank refuses
with the lowest rank's message. The exchanges go through a gloo group of their own with a timeout
(Coordinator), so a rank that never arrives ends in a named error instead of a hang.

Testing (README): GALVATRON_CHECKPOINT_FAULT=ACTION:POINT[:RANK[:STEP]] makes the writer fail or hang at a
chosen point; see Fault.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch

FORMAT = "galvatron.checkpoint/v2"
LATEST = "latest"
HEADER_BYTES = 4096
FAULT_ENV = "GALVATRON_CHECKPOINT_FAULT"
_STEP_RE = re.compile(r"^step-(\d{8})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class CheckpointError(Exception):
    """A checkpoint that cannot be used as asked; the message is the one line the user sees."""


class CollectiveTimeout(CheckpointError):
    """The ranks did not all reach a checkpoint collective in time. ``rank0_missing``: rank 0 is the one
    that never answered, so it cannot be the rank that reports it."""

    def __init__(self, message: str, rank0_missing: bool = False):
        super().__init__(message)
        self.rank0_missing = rank0_missing


def step_name(step: int) -> str:
    return f"step-{step:08d}"


def shard_name(rank: int) -> str:
    return f"rank-{rank:05d}.pt"


# ------------------------------------------------------------------ fault injection (tests)
FAULT_ACTIONS = ("enospc", "hang")
FAULT_POINTS = ("shard", "meta", "rename", "latest", "verify")


@dataclass(frozen=True)
class Fault:
    """Where the writer (or the resume check) misbehaves on purpose, to test what a crash or a full disk
    leaves behind. ``enospc`` raises OSError(ENOSPC); ``hang`` logs one stderr line and sleeps forever (a
    test then SIGKILLs the launcher). Points: ``shard`` (mid-write of a rank's shard), ``meta`` (mid-write
    of meta.json, rank 0), ``rename`` (meta.json written, before the directory rename), ``latest``
    (directory renamed, mid-write of the new pointer), ``verify`` (resume check of a rank's shard).
    ``rank`` None: every rank that reaches the point; ``step`` None: every save."""

    action: str
    point: str
    rank: int | None = None
    step: int | None = None

    def trip(self, point: str, rank: int, step: int, path: str) -> None:
        if point != self.point or (self.rank is not None and rank != self.rank):
            return
        if self.step is not None and step != self.step:
            return
        if self.action == "enospc":
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (injected by {FAULT_ENV})", path)
        sys.stderr.write(f"galvatron-runtime: {FAULT_ENV}: rank {rank} hangs at {point} of {step_name(step)}\n")
        sys.stderr.flush()
        while True:
            time.sleep(3600)


def parse_fault(text: str | None) -> Fault | None:
    """``ACTION:POINT[:RANK[:STEP]]``; ValueError naming the variable for anything else."""
    if not text:
        return None
    parts = text.split(":")
    usage = f"{FAULT_ENV}={text!r}: expected ACTION:POINT[:RANK[:STEP]] with ACTION in {'/'.join(FAULT_ACTIONS)} and POINT in {'/'.join(FAULT_POINTS)}"
    if not 2 <= len(parts) <= 4 or parts[0] not in FAULT_ACTIONS or parts[1] not in FAULT_POINTS:
        raise ValueError(usage)
    try:
        rank = int(parts[2]) if len(parts) > 2 and parts[2] != "" else None
        step = int(parts[3]) if len(parts) > 3 else None
    except ValueError:
        raise ValueError(usage) from None
    return Fault(parts[0], parts[1], rank, step)


def _trip(fault: Fault | None, point: str, rank: int, step: int, path: str) -> None:
    if fault is not None:
        fault.trip(point, rank, step, path)


# ------------------------------------------------------------------ collectives with a timeout
class Coordinator:
    """The checkpoint protocol's collectives: a gloo group of their own (CPU tensors, also under NCCL
    runs) whose operations time out after ``timeout_s``. exchange() starts with a monitored barrier, so a
    rank that never arrives is named on rank 0 ("rank 3 did not reach ...") instead of hanging the job.
    Collective: create it on every rank, in the same order relative to the other groups."""

    def __init__(self, rank: int, world: int, timeout_s: float):
        self.rank, self.world, self.timeout_s = rank, world, timeout_s
        self.pg = None
        if world > 1:
            import torch.distributed as dist

            self.pg = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s))

    def exchange(self, text: str, what: str) -> list[str]:
        """Every rank's ``text``, in rank order. CheckpointError naming the missing ranks on a timeout."""
        if self.pg is None:
            return [text]
        import torch.distributed as dist

        try:
            dist.monitored_barrier(group=self.pg, timeout=timedelta(seconds=self.timeout_s), wait_all_ranks=True)
            data = torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8) if text else torch.zeros(0, dtype=torch.uint8)
            sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(self.world)]
            dist.all_gather(sizes, torch.tensor([data.numel()], dtype=torch.int64), group=self.pg)
            longest = max(int(s.item()) for s in sizes)
            if longest == 0:  # a plain barrier: gloo does not gather empty tensors
                return [""] * self.world
            padded = torch.zeros(longest, dtype=torch.uint8)
            padded[: data.numel()] = data
            out = [torch.zeros(longest, dtype=torch.uint8) for _ in range(self.world)]
            dist.all_gather(out, padded, group=self.pg)
        except RuntimeError as e:  # gloo timeouts and closed connections (DistBackendError is a RuntimeError)
            message, rank0_missing = _describe_timeout(str(e), self.rank, self.timeout_s)
            raise CollectiveTimeout(f"{what}: {message}", rank0_missing) from None
        return [bytes(o[: int(s.item())].tolist()).decode() for o, s in zip(out, sizes)]

    def barrier(self) -> None:
        """Best effort (used before exiting together): never raises."""
        try:
            self.exchange("", "barrier")
        except CheckpointError:
            pass


def _describe_timeout(text: str, rank: int, timeout_s: float) -> tuple[str, bool]:
    missing = re.search(r"[Rr]anks? ([\d, ]+) failed to pass monitoredBarrier", text)
    if missing:
        ranks = [r.strip() for r in missing.group(1).split(",") if r.strip()]
        who = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(ranks)}"
        return f"{who} did not arrive within {timeout_s:g} s (--checkpoint-timeout); stopped instead of waiting", False
    if rank != 0:
        return f"rank 0 did not answer rank {rank} within {timeout_s:g} s (--checkpoint-timeout) or left the job", True
    first = text.strip().splitlines()[0] if text.strip() else "no detail"
    return f"the ranks did not all arrive within {timeout_s:g} s (--checkpoint-timeout): {first[:200]}", False


def first_error(verdicts: list[str]) -> str | None:
    """The lowest rank's error among exchange() results (JSON objects with "error" or "ok")."""
    for v in verdicts:
        if v and "error" in json.loads(v):
            return json.loads(v)["error"]
    return None


# ------------------------------------------------------------------ files
def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _replacing(path: str):
    """Yields ``path``.part to write; renames it over ``path`` when the block ends, or removes it when the
    block raises (anything: a fault, a full disk, an interrupt)."""
    part = f"{path}.part"
    try:
        yield part
        os.replace(part, path)
    except BaseException:
        _remove(part)
        raise


def _write_atomic(path: str, data: bytes, trip=lambda: None) -> None:
    with _replacing(path) as tmp, open(tmp, "wb") as f:
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        trip()  # a fault lands with the temporary file half written
        f.write(data[half:])
        f.flush()
        os.fsync(f.fileno())


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def render_header(fields: dict) -> bytes:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    if len(body) > HEADER_BYTES - 1:
        raise ValueError("shard header too long")
    return body + b" " * (HEADER_BYTES - 1 - len(body)) + b"\n"


class _HashingWriter:
    """What torch.save writes into: hashes and counts the payload on its way to the file."""

    def __init__(self, f, trip):
        self.f, self.trip = f, trip
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, b) -> int:
        n = self.f.write(b)
        self.sha.update(b)
        self.bytes += len(b)
        if self.trip is not None:
            trip, self.trip = self.trip, None
            self.f.flush()
            trip()  # a fault lands after the first payload bytes reached the file
        return n

    def flush(self) -> None:
        self.f.flush()


def write_shard(path: str, state: dict, rank: int, step: int, plan: str, fault: Fault | None = None) -> dict:
    """Writes ``path`` (through ``path``.part, fsynced, renamed). Returns its meta.json entry."""
    with _replacing(path) as part, open(part, "wb") as f:
        f.write(b" " * HEADER_BYTES)  # reserved: the header holds the payload's hash, known at the end
        w = _HashingWriter(f, lambda: _trip(fault, "shard", rank, step, part))
        torch.save(state, w)
        digest = w.sha.hexdigest()
        header = render_header(
            {"format": FORMAT, "rank": rank, "step": step, "plan": plan, "payloadBytes": w.bytes, "payloadSha256": digest}
        )
        f.seek(0)
        f.write(header)
        f.flush()
        os.fsync(f.fileno())
    return {"file": os.path.basename(path), "rank": rank, "bytes": HEADER_BYTES + w.bytes, "sha256": digest}


def _read_header(f) -> dict | None:
    raw = f.read(HEADER_BYTES)
    if len(raw) != HEADER_BYTES:
        return None
    try:
        fields = json.loads(raw.split(b"\n", 1)[0])
    except ValueError:
        return None
    if not isinstance(fields, dict) or set(fields) != {"format", "payloadBytes", "payloadSha256", "plan", "rank", "step"}:
        return None
    try:
        if render_header(fields) != raw:  # byte for byte: a change in the padding is a change too
            return None
    except (TypeError, ValueError):
        return None
    return fields


# ------------------------------------------------------------------ saving
def save(
    ckpt_dir: str,
    step: int,
    rank: int,
    world: int,
    state: dict,
    meta: dict,
    coord: Coordinator,
    keep: int = 2,
    fault: Fault | None = None,
) -> str:
    """Collective: every rank calls it with its own state. Returns the checkpoint directory, or raises
    CheckpointError with the same one-line message on every rank (nothing of the save left behind)."""
    name = step_name(step)
    final = os.path.join(ckpt_dir, name)
    tmp = os.path.join(ckpt_dir, f".tmp-{name}")
    what = f"checkpoint {name} not saved"

    def fail_if_any(verdicts: list[str]) -> None:
        error = first_error(verdicts)
        if error is not None:
            if rank == 0:
                shutil.rmtree(tmp, ignore_errors=True)
            raise CheckpointError(f"{what}: {error}; {_still_latest(ckpt_dir)}")

    verdict = {"ok": True}
    if rank == 0:
        try:
            os.makedirs(ckpt_dir, exist_ok=True)
            _remove_leftovers(ckpt_dir)
            os.makedirs(tmp)
        except OSError as e:
            verdict = {"error": f"rank 0 could not create {tmp}: {_oserror(e)}"}
    fail_if_any(coord.exchange(json.dumps(verdict), what))

    try:
        verdict = {"ok": write_shard(os.path.join(tmp, shard_name(rank)), state, rank, step, meta["plan"], fault)}
    except OSError as e:
        verdict = {"error": f"rank {rank} could not write {name}/{shard_name(rank)}: {_oserror(e)}"}
    verdicts = coord.exchange(json.dumps(verdict), what)
    fail_if_any(verdicts)

    verdict = {"ok": True}
    if rank == 0:
        renamed = False
        try:
            shards = [json.loads(v)["ok"] for v in verdicts]
            doc = dict(meta, format=FORMAT, step=step, shards=shards)
            meta_path = os.path.join(tmp, "meta.json")
            _write_atomic(meta_path, json.dumps(doc, indent=1).encode(), lambda: _trip(fault, "meta", rank, step, meta_path))
            _fsync_dir(tmp)
            _trip(fault, "rename", rank, step, tmp)
            if os.path.exists(final):  # an orphan of a save killed between rename and pointer
                shutil.rmtree(final)
            os.replace(tmp, final)
            renamed = True
            _fsync_dir(ckpt_dir)
            latest_path = os.path.join(ckpt_dir, LATEST)
            _write_atomic(latest_path, (name + "\n").encode(), lambda: _trip(fault, "latest", rank, step, latest_path))
            _fsync_dir(ckpt_dir)
        except OSError as e:
            where = os.path.relpath(e.filename, ckpt_dir) if isinstance(e.filename, str) else "meta.json or latest"
            verdict = {"error": f"rank 0 could not write {where}: {_oserror(e)}"}
            if renamed:  # `latest` still names the previous one: this directory is not a checkpoint
                shutil.rmtree(final, ignore_errors=True)
        else:
            _prune(ckpt_dir, keep, step)
    fail_if_any(coord.exchange(json.dumps(verdict), what))
    return final


def _oserror(e: OSError) -> str:
    text = f"[Errno {e.errno}] {e.strerror}" if e.errno is not None and e.strerror else str(e)
    return text


def _still_latest(ckpt_dir: str) -> str:
    name = _read_latest_name(ckpt_dir)
    if name and os.path.isfile(os.path.join(ckpt_dir, name, "meta.json")):
        return f"the partial save was removed; latest still names {name}"
    return "the partial save was removed; there is no earlier checkpoint"


def _remove_leftovers(ckpt_dir: str) -> None:
    """Interrupted saves: .tmp-step-* directories and half-written pointers."""
    for entry in os.listdir(ckpt_dir):
        path = os.path.join(ckpt_dir, entry)
        if entry.startswith(".tmp-step-"):
            shutil.rmtree(path, ignore_errors=True)
        elif entry == f"{LATEST}.part":
            _remove(path)


def _prune(ckpt_dir: str, keep: int, step: int) -> None:
    """Keeps the newest ``keep`` checkpoints up to ``step`` (the one just saved, which `latest` names);
    removes any newer directory, an orphan of a killed run that `latest` never named."""
    steps = []
    for d in os.listdir(ckpt_dir):
        m = _STEP_RE.match(d)
        if m and os.path.isdir(os.path.join(ckpt_dir, d)):
            steps.append((int(m.group(1)), d))
    steps.sort()
    older = [d for s, d in steps if s <= step]
    doomed = [d for s, d in steps if s > step] + (older[:-keep] if keep > 0 else [])
    for d in doomed:
        shutil.rmtree(os.path.join(ckpt_dir, d), ignore_errors=True)


# ------------------------------------------------------------------ resuming
def _read_latest_name(ckpt_dir: str) -> str | None:
    try:
        with open(os.path.join(ckpt_dir, LATEST), encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def latest(ckpt_dir: str) -> str | None:
    """Directory `latest` names when it holds a meta.json, else None (no verification: see verify_local)."""
    name = _read_latest_name(ckpt_dir)
    if not name:
        return None
    path = os.path.join(ckpt_dir, name)
    return path if os.path.isfile(os.path.join(path, "meta.json")) else None


def resolve_latest(ckpt_dir: str) -> str:
    """The name `latest` gives; CheckpointError naming what is wrong."""
    if not os.path.isdir(ckpt_dir):
        raise CheckpointError(f"no checkpoint: {ckpt_dir} does not exist")
    pointer = os.path.join(ckpt_dir, LATEST)
    if not os.path.exists(pointer):
        raise CheckpointError(f"no complete checkpoint in {ckpt_dir} (no {LATEST} file)")
    name = _read_latest_name(ckpt_dir)
    if name is None or not _STEP_RE.match(name):
        raise CheckpointError(f"{LATEST}: names {name!r}, not a step-NNNNNNNN checkpoint")
    if not os.path.isdir(os.path.join(ckpt_dir, name)):
        raise CheckpointError(f"{LATEST}: names {name}, which does not exist in {ckpt_dir}")
    return name


def read_meta(path: str) -> dict:
    with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
        return json.load(f)


def check_meta(ckpt_dir: str, name: str, world: int, identity: dict) -> dict:
    """meta.json of ``name``: present, parseable, v2, its step, the run's identity and a well-formed
    shard list for ``world`` ranks."""
    where = f"{name}/meta.json"
    try:
        meta = read_meta(os.path.join(ckpt_dir, name))
    except FileNotFoundError:
        raise CheckpointError(f"{where}: missing (the directory is not a complete checkpoint)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{where}: not readable JSON ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: not a JSON object")
    fmt = meta.get("format")
    if fmt == "galvatron.checkpoint/v1":
        raise CheckpointError(
            f"{where}: format galvatron.checkpoint/v1 has no shard hashes and cannot be verified; this runtime "
            f"resumes {FORMAT} only (start afresh, or resume with the version that wrote it)"
        )
    if fmt != FORMAT:
        raise CheckpointError(f"{where}: format {fmt!r}, expected {FORMAT}")
    step = int(_STEP_RE.match(name).group(1))
    if meta.get("step") != step:
        raise CheckpointError(f"{where}: step is {meta.get('step')!r} but the directory is {name}")
    for key, value in identity.items():
        if meta.get(key) != value:
            raise CheckpointError(f"{name} was written with {key} = {meta.get(key)!r}, this run has {value!r}")
    extra = [k for k in ("lossScale",) if k in meta and k not in identity]
    if extra:
        raise CheckpointError(f"{name} was written with {extra[0]} = {meta[extra[0]]!r}, this run has none")
    shards = meta.get("shards")
    if not isinstance(shards, list) or len(shards) != world:
        count = len(shards) if isinstance(shards, list) else "no"
        raise CheckpointError(f"{where}: shards: lists {count} shard(s) for worldSize {world}")
    for r, entry in enumerate(shards):
        ok = (
            isinstance(entry, dict)
            and entry.get("file") == shard_name(r)
            and entry.get("rank") == r
            and isinstance(entry.get("bytes"), int)
            and entry["bytes"] >= HEADER_BYTES
            and isinstance(entry.get("sha256"), str)
            and _HEX64.match(entry["sha256"])
        )
        if not ok:
            raise CheckpointError(f"{where}: shards[{r}]: expected {{file: {shard_name(r)}, rank: {r}, bytes, sha256}}, got {json.dumps(entry)[:120]}")
    return meta


def check_shard(ckpt_dir: str, name: str, meta: dict, rank: int, fault: Fault | None = None) -> None:
    """This rank's shard against meta.json: present, its size, its header (format, rank, step, plan,
    hash) and the sha256 of its payload."""
    entry = meta["shards"][rank]
    rel = f"{name}/{entry['file']}"
    path = os.path.join(ckpt_dir, name, entry["file"])
    _trip(fault, "verify", rank, meta["step"], path)
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise CheckpointError(f"{rel}: missing (meta.json lists it)") from None
    if size != entry["bytes"]:
        raise CheckpointError(f"{rel}: {size} bytes, meta.json lists {entry['bytes']} (truncated or changed since it was written)")
    try:
        with open(path, "rb") as f:
            header = _read_header(f)
            if header is None:
                raise CheckpointError(f"{rel}: header is not a {FORMAT} shard header (file changed since it was written)")
            if header["format"] != FORMAT:
                raise CheckpointError(f"{rel}: header format {header['format']!r}, expected {FORMAT}")
            if header["rank"] != rank:
                raise CheckpointError(f"{rel}: holds rank {header['rank']}'s shard, not rank {rank}'s (shards swapped or renamed)")
            if header["step"] != meta["step"]:
                raise CheckpointError(f"{rel}: holds step {header['step']}, meta.json says {meta['step']} (copied from another checkpoint)")
            if header["plan"] != meta["plan"]:
                raise CheckpointError(f"{rel}: written for plan {header['plan']}, meta.json says {meta['plan']} (copied from another run)")
            if HEADER_BYTES + header["payloadBytes"] != size or header["payloadSha256"] != entry["sha256"]:
                raise CheckpointError(f"{rel}: header and meta.json disagree on the payload (file changed since it was written)")
            sha = hashlib.sha256()
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
    except OSError as e:
        raise CheckpointError(f"{rel}: cannot be read: {_oserror(e)}") from None
    if sha.hexdigest() != entry["sha256"]:
        raise CheckpointError(f"{rel}: sha256 mismatch (file changed since it was written)")


def verify_local(ckpt_dir: str, rank: int, world: int, identity: dict, fault: Fault | None = None) -> str:
    """This rank's part of the resume check; returns the checkpoint's name, or raises CheckpointError."""
    name = resolve_latest(ckpt_dir)
    meta = check_meta(ckpt_dir, name, world, identity)
    check_shard(ckpt_dir, name, meta, rank, fault)
    return name


def verify_resume(ckpt_dir: str, rank: int, world: int, identity: dict, coord: Coordinator, fault: Fault | None = None) -> str:
    """Collective: every rank checks the checkpoint `latest` names (meta.json and its own shard), then the
    verdicts are exchanged. Returns the checkpoint directory on every rank, or raises CheckpointError
    with the same message (the lowest rank's) on every rank; nothing has been loaded either way."""
    try:
        verdict = {"ok": verify_local(ckpt_dir, rank, world, identity, fault)}
    except CheckpointError as e:
        verdict = {"error": str(e)}
    verdicts = coord.exchange(json.dumps(verdict), "checkpoint check")
    error = first_error(verdicts)
    if error is not None:
        raise CheckpointError(error)
    names = {json.loads(v)["ok"] for v in verdicts}
    if len(names) != 1:
        raise CheckpointError(f"{LATEST}: the ranks read different checkpoints ({', '.join(sorted(names))}); is it being written?")
    return os.path.join(ckpt_dir, names.pop())


class _Window(io.RawIOBase):
    """The payload of a shard as a file of its own (torch.load seeks relative to the zip's start)."""

    def __init__(self, f, offset: int):
        self.f, self.offset = f, offset
        f.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self.f.readinto(b)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == io.SEEK_SET:
            pos += self.offset
        return self.f.seek(pos, whence) - self.offset

    def tell(self) -> int:
        return self.f.tell() - self.offset


def load_rank(path: str, rank: int) -> dict:
    """This rank's state from a checkpoint directory (verify_resume first: this only reads)."""
    with open(os.path.join(path, shard_name(rank)), "rb") as f:
        return torch.load(io.BufferedReader(_Window(f, HEADER_BYTES)), map_location="cpu", weights_only=True)
