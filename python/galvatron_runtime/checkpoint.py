"""Sharded, atomic checkpoints.

Layout of --checkpoint-dir D:

    D/step-00000004/rank-00003.pt   one file per rank: its own parameter shards (the flat buckets it
                                    stores: the full TP shard for ddp/zero1/zero2, the 1/dp slice for
                                    zero3), its Adam states, the step count and the RNG state
    D/step-00000004/meta.json       world size, plan fingerprint, step, dtype, seed
    D/latest                        the name of the newest complete checkpoint ("step-00000004")

A checkpoint named step-K holds the state after K steps (steps 0..K-1); resuming continues at step K.
The data of step k is a pure function of (seed, k), so the step count is the whole data position.

Atomicity: ranks write into D/.tmp-step-K/ (each file written as *.part, fsynced and renamed), then rank
0 writes meta.json, renames the directory to D/step-K and rewrites D/latest through a temporary file and
os.replace. A crash at any point leaves D/latest naming the previous complete checkpoint; leftovers of an
interrupted save are removed by the next save. Rank 0 does the renames, so on several nodes D must be a
shared filesystem. The last ``keep`` complete checkpoints are kept.
"""
from __future__ import annotations

import json
import os
import shutil

import torch

FORMAT = "galvatron.checkpoint/v1"
LATEST = "latest"


def step_name(step: int) -> str:
    return f"step-{step:08d}"


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


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(ckpt_dir: str, step: int, rank: int, world: int, state: dict, meta: dict, barrier, keep: int = 2) -> str:
    """Collective: every rank calls it with its own state. Returns the checkpoint directory."""
    name = step_name(step)
    final = os.path.join(ckpt_dir, name)
    tmp = os.path.join(ckpt_dir, f".tmp-{name}")
    if rank == 0:
        os.makedirs(ckpt_dir, exist_ok=True)
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
    barrier()
    part = os.path.join(tmp, f"rank-{rank:05d}.pt.part")
    with open(part, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, os.path.join(tmp, f"rank-{rank:05d}.pt"))
    barrier()
    if rank == 0:
        missing = [r for r in range(world) if not os.path.exists(os.path.join(tmp, f"rank-{r:05d}.pt"))]
        if missing:
            raise RuntimeError(f"checkpoint {name}: ranks {missing} did not write their shard")
        _write_atomic(os.path.join(tmp, "meta.json"), json.dumps(dict(meta, format=FORMAT, step=step)).encode())
        _fsync_dir(tmp)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(ckpt_dir)
        _write_atomic(os.path.join(ckpt_dir, LATEST), (name + "\n").encode())
        _fsync_dir(ckpt_dir)
        _prune(ckpt_dir, keep)
    barrier()
    return final


def _prune(ckpt_dir: str, keep: int) -> None:
    steps = sorted(d for d in os.listdir(ckpt_dir) if d.startswith("step-") and os.path.isdir(os.path.join(ckpt_dir, d)))
    for d in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(ckpt_dir, d), ignore_errors=True)


def latest(ckpt_dir: str) -> str | None:
    """Directory of the newest complete checkpoint, or None."""
    try:
        with open(os.path.join(ckpt_dir, LATEST), encoding="utf-8") as f:
            name = f.read().strip()
    except FileNotFoundError:
        return None
    path = os.path.join(ckpt_dir, name)
    return path if os.path.isfile(os.path.join(path, "meta.json")) else None


def read_meta(path: str) -> dict:
    with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
        return json.load(f)


def load_rank(path: str, rank: int) -> dict:
    return torch.load(os.path.join(path, f"rank-{rank:05d}.pt"), map_location="cpu", weights_only=True)
