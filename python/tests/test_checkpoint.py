"""checkpoint.py: shard headers and hashes, the resume check (one named error per kind of damage), and a
save that fails half-way (injected ENOSPC) leaving the previous checkpoint as `latest`. Single process:
the multi-rank behaviour (every rank refusing together, SIGKILL mid-save) is in
test/runtime/checkpoint-faults.test.ts."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import unittest

import torch

from galvatron_runtime import checkpoint
from galvatron_runtime.checkpoint import CheckpointError, Fault

WORLD = 2
IDENTITY = {"worldSize": WORLD, "plan": "0123456789abcdef", "dtype": "float64", "seed": 0}


def state_of(rank: int, step: int) -> dict:
    g = torch.Generator().manual_seed(100 * rank + step)
    return {"step": step, "rank": rank, "units": {"w": torch.randn(64, generator=g, dtype=torch.float64)}, "rng": torch.get_rng_state()}


def write_checkpoint(d: str, step: int, identity: dict = IDENTITY) -> str:
    """A complete checkpoint of WORLD ranks, written the way save() writes one (shards, meta, latest)."""
    name = checkpoint.step_name(step)
    os.makedirs(os.path.join(d, name))
    shards = [
        checkpoint.write_shard(os.path.join(d, name, checkpoint.shard_name(r)), state_of(r, step), r, step, identity["plan"])
        for r in range(identity["worldSize"])
    ]
    with open(os.path.join(d, name, "meta.json"), "w") as f:
        json.dump(dict(identity, format=checkpoint.FORMAT, step=step, shards=shards), f)
    with open(os.path.join(d, checkpoint.LATEST), "w") as f:
        f.write(name + "\n")
    return os.path.join(d, name)


class ShardFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = write_checkpoint(self.dir, 4)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def verify(self, rank: int = 1, identity: dict = IDENTITY) -> str:
        return checkpoint.verify_local(self.dir, rank, WORLD, identity)

    def refusal(self, rank: int = 1, identity: dict = IDENTITY) -> str:
        with self.assertRaises(CheckpointError) as caught:
            self.verify(rank, identity)
        return str(caught.exception)

    def shard(self, rank: int) -> str:
        return os.path.join(self.path, checkpoint.shard_name(rank))

    def meta(self) -> dict:
        with open(os.path.join(self.path, "meta.json")) as f:
            return json.load(f)

    def write_meta(self, meta) -> None:
        with open(os.path.join(self.path, "meta.json"), "w") as f:
            json.dump(meta, f)

    def flip(self, rank: int, offset: int) -> None:
        with open(self.shard(rank), "r+b") as f:
            f.seek(offset)
            b = f.read(1)
            f.seek(offset)
            f.write(bytes([b[0] ^ 0x01]))

    def test_header_size_and_hash_match_meta(self):
        self.assertEqual(self.verify(0), "step-00000004")
        self.assertEqual(self.verify(1), "step-00000004")
        entry = self.meta()["shards"][1]
        self.assertEqual(entry["file"], "rank-00001.pt")
        self.assertEqual(entry["rank"], 1)
        self.assertEqual(entry["bytes"], os.path.getsize(self.shard(1)))
        with open(self.shard(1), "rb") as f:
            header = json.loads(f.read(checkpoint.HEADER_BYTES).split(b"\n")[0])
            payload_sha = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(header, {"format": checkpoint.FORMAT, "rank": 1, "step": 4, "plan": IDENTITY["plan"], "payloadBytes": entry["bytes"] - checkpoint.HEADER_BYTES, "payloadSha256": payload_sha})
        self.assertEqual(entry["sha256"], payload_sha)

    def test_load_returns_the_saved_state(self):
        got = checkpoint.load_rank(self.path, 1)
        want = state_of(1, 4)
        self.assertTrue(torch.equal(got["units"]["w"], want["units"]["w"]))
        self.assertEqual(got["step"], 4)

    def test_a_flipped_payload_byte(self):
        self.flip(1, os.path.getsize(self.shard(1)) - 100)
        self.assertEqual(self.refusal(), "step-00000004/rank-00001.pt: sha256 mismatch (file changed since it was written)")

    def test_a_flipped_header_byte_even_in_the_padding(self):
        self.flip(1, checkpoint.HEADER_BYTES - 10)
        self.assertIn("rank-00001.pt: header is not a galvatron.checkpoint/v2 shard header", self.refusal())
        self.flip(1, checkpoint.HEADER_BYTES - 10)
        # Every byte of the JSON part too: a refusal naming the shard (its header, or the field it changed).
        for offset in range(0, 200, 3):
            with self.subTest(offset=offset):
                self.flip(1, offset)
                try:
                    self.assertTrue(self.refusal().startswith("step-00000004/rank-00001.pt: "))
                finally:
                    self.flip(1, offset)
        self.verify()

    def test_a_truncated_shard(self):
        size = os.path.getsize(self.shard(1))
        with open(self.shard(1), "r+b") as f:
            f.truncate(size - 1)
        self.assertEqual(self.refusal(), f"step-00000004/rank-00001.pt: {size - 1} bytes, meta.json lists {size} (truncated or changed since it was written)")

    def test_a_deleted_shard(self):
        os.remove(self.shard(1))
        self.assertEqual(self.refusal(), "step-00000004/rank-00001.pt: missing (meta.json lists it)")
        self.verify(0)  # the other rank's part is fine: the ranks' verdicts are combined (verify_resume)

    def test_swapped_shards(self):
        meta = self.meta()
        a, b = self.shard(0), self.shard(1)
        os.rename(a, a + ".x")
        os.rename(b, a)
        os.rename(a + ".x", b)
        meta["shards"][0]["sha256"], meta["shards"][1]["sha256"] = meta["shards"][1]["sha256"], meta["shards"][0]["sha256"]
        self.write_meta(meta)  # even with meta.json edited to match, the headers name the ranks
        self.assertEqual(self.refusal(0), "step-00000004/rank-00000.pt: holds rank 1's shard, not rank 0's (shards swapped or renamed)")

    def test_a_shard_of_another_step_or_plan(self):
        other = tempfile.mkdtemp()
        try:
            write_checkpoint(other, 2)
            shutil.copy(os.path.join(other, "step-00000002", "rank-00001.pt"), self.shard(1))
            meta = self.meta()
            with open(os.path.join(other, "step-00000002", "meta.json")) as f:
                meta["shards"][1] = json.load(f)["shards"][1]
            self.write_meta(meta)
            self.assertIn("rank-00001.pt: holds step 2, meta.json says 4", self.refusal())
        finally:
            shutil.rmtree(other)

    def test_an_edited_meta_hash(self):
        meta = self.meta()
        meta["shards"][1]["sha256"] = "0" * 64
        self.write_meta(meta)
        self.assertIn("rank-00001.pt: header and meta.json disagree on the payload", self.refusal())

    def test_meta_missing_or_unreadable(self):
        path = os.path.join(self.path, "meta.json")
        with open(path, "r+") as f:
            f.truncate(20)
        self.assertIn("step-00000004/meta.json: not readable JSON", self.refusal())
        os.remove(path)
        self.assertEqual(self.refusal(), "step-00000004/meta.json: missing (the directory is not a complete checkpoint)")

    def test_meta_shard_list(self):
        meta = self.meta()
        meta["shards"] = meta["shards"][:1]
        self.write_meta(meta)
        self.assertEqual(self.refusal(), "step-00000004/meta.json: shards: lists 1 shard(s) for worldSize 2")

    def test_v1_is_refused_with_a_reason(self):
        self.write_meta(dict(IDENTITY, format="galvatron.checkpoint/v1", step=4))
        self.assertIn("format galvatron.checkpoint/v1 has no shard hashes", self.refusal())

    def test_each_identity_field(self):
        for key, value in (("worldSize", 4), ("plan", "fedcba9876543210"), ("dtype", "float32"), ("seed", 1)):
            with self.subTest(key=key):
                msg = self.refusal(identity=dict(IDENTITY, **{key: value}))
                self.assertEqual(msg, f"step-00000004 was written with {key} = {IDENTITY[key]!r}, this run has {value!r}")
        scaled = dict(IDENTITY, lossScale={"mode": "dynamic", "window": 1000, "minScale": 1.0})
        self.assertIn("lossScale = None", self.refusal(identity=scaled))

    def test_latest(self):
        with open(os.path.join(self.dir, "latest"), "w") as f:
            f.write("step-00000009\n")
        self.assertEqual(self.refusal(), f"latest: names step-00000009, which does not exist in {self.dir}")
        with open(os.path.join(self.dir, "latest"), "w") as f:
            f.write("../elsewhere\n")
        self.assertIn("latest: names '../elsewhere', not a step-NNNNNNNN checkpoint", self.refusal())
        os.remove(os.path.join(self.dir, "latest"))
        self.assertEqual(self.refusal(), f"no complete checkpoint in {self.dir} (no latest file)")


class SaveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.solo = checkpoint.Coordinator(0, 1, 10.0)
        self.identity = dict(IDENTITY, worldSize=1)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def save(self, step: int, fault: Fault | None = None, keep: int = 2) -> str:
        return checkpoint.save(self.dir, step, 0, 1, state_of(0, step), self.identity, self.solo, keep, fault)

    def test_enospc_at_every_point_leaves_the_previous_checkpoint(self):
        self.save(2)
        for point in ("shard", "meta", "latest"):
            with self.subTest(point=point):
                with self.assertRaises(CheckpointError) as caught:
                    self.save(4, Fault("enospc", point))
                msg = str(caught.exception)
                self.assertTrue(msg.startswith("checkpoint step-00000004 not saved: rank 0 could not write "), msg)
                self.assertIn("[Errno 28] No space left on device", msg)
                self.assertTrue(msg.endswith("the partial save was removed; latest still names step-00000002"), msg)
                self.assertEqual(sorted(os.listdir(self.dir)), ["latest", "step-00000002"])
                self.assertEqual(checkpoint.verify_local(self.dir, 0, 1, self.identity), "step-00000002")

    def test_enospc_on_the_first_save(self):
        with self.assertRaises(CheckpointError) as caught:
            self.save(2, Fault("enospc", "shard", 0, 2))
        self.assertTrue(str(caught.exception).endswith("there is no earlier checkpoint"))
        self.assertEqual(os.listdir(self.dir), [])

    def test_leftovers_and_orphans_are_removed_by_the_next_save(self):
        self.save(2)
        os.makedirs(os.path.join(self.dir, ".tmp-step-00000004"))  # a save killed mid-way
        open(os.path.join(self.dir, "latest.part"), "w").close()  # killed while replacing latest
        os.makedirs(os.path.join(self.dir, "step-00000008"))  # renamed, killed before latest named it
        self.assertEqual(checkpoint.verify_local(self.dir, 0, 1, self.identity), "step-00000002")
        self.save(4)
        self.save(6)
        self.assertEqual(sorted(os.listdir(self.dir)), ["latest", "step-00000004", "step-00000006"])
        self.assertEqual(checkpoint.verify_local(self.dir, 0, 1, self.identity), "step-00000006")


class FaultSpecTest(unittest.TestCase):
    def test_parse(self):
        self.assertIsNone(checkpoint.parse_fault(""))
        self.assertEqual(checkpoint.parse_fault("enospc:shard"), Fault("enospc", "shard"))
        self.assertEqual(checkpoint.parse_fault("hang:meta::4"), Fault("hang", "meta", None, 4))
        self.assertEqual(checkpoint.parse_fault("hang:shard:1:6"), Fault("hang", "shard", 1, 6))
        for bad in ("enospc", "crash:shard", "enospc:disk", "enospc:shard:x", "a:b:c:d:e"):
            with self.subTest(bad=bad), self.assertRaises(ValueError) as caught:
                checkpoint.parse_fault(bad)
            self.assertIn(checkpoint.FAULT_ENV, str(caught.exception))

    def test_trip_only_at_its_point_rank_and_step(self):
        f = Fault("enospc", "shard", 1, 4)
        f.trip("meta", 1, 4, "x")
        f.trip("shard", 0, 4, "x")
        f.trip("shard", 1, 2, "x")
        with self.assertRaises(OSError) as caught:
            f.trip("shard", 1, 4, "x")
        self.assertEqual(caught.exception.errno, 28)


if __name__ == "__main__":
    unittest.main()
