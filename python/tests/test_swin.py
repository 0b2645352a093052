"""Swin's window attention and patch merging (swin.py) against direct computations: attention over the
whole grid with a per-pair rule (same window after the roll, same region, bias by relative offset), and
the 2 × 2 merge done token by token."""
import math
import unittest

import torch
import torch.nn.functional as F

from galvatron_runtime import swin
from galvatron_runtime.comm import Group

SOLO = Group((0,), None, 0)


def params(c: int, heads: int, w: int, gen: torch.Generator) -> dict:
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64) * 0.3  # noqa: E731
    return {
        "attn.wq": r(c, c), "attn.bq": r(c), "attn.wk": r(c, c), "attn.bk": r(c),
        "attn.wv": r(c, c), "attn.bv": r(c), "attn.wo": r(c, c), "attn.bo": r(c),
        "attn.relative_bias": r((2 * w - 1) ** 2, heads),
    }


def direct_attention(x, p, grid, w, shift, heads):
    """Every query against every key of the grid, allowed when both sit in the same window of the rolled
    grid and the same region of it (Swin's rule), plus the bias of their offset inside the window."""
    b, n, c = x.shape
    assert b == 1, "one sample keeps the loops readable"
    d = c // heads
    q = (x @ p["attn.wq"].t() + p["attn.bq"]).view(b, n, heads, d)
    k = (x @ p["attn.wk"].t() + p["attn.bk"]).view(b, n, heads, d)
    v = (x @ p["attn.wv"].t() + p["attn.bv"]).view(b, n, heads, d)
    out = torch.zeros(b, n, heads, d, dtype=x.dtype)

    def where(i):  # the token's place on the rolled grid
        r, col = divmod(i, grid)
        return (r - shift) % grid, (col - shift) % grid

    def region(pos):
        if shift == 0:
            return (0, 0)
        cut = lambda a: 0 if a < grid - w else (1 if a < grid - shift else 2)  # noqa: E731
        return cut(pos[0]), cut(pos[1])

    for i in range(n):
        ri = where(i)
        for hd in range(heads):
            scores, values = [], []
            for j in range(n):
                rj = where(j)
                if (ri[0] // w, ri[1] // w) != (rj[0] // w, rj[1] // w) or region(ri) != region(rj):
                    continue
                dy, dx = ri[0] % w - rj[0] % w, ri[1] % w - rj[1] % w
                bias = p["attn.relative_bias"][(dy + w - 1) * (2 * w - 1) + dx + w - 1, hd]
                scores.append(q[0, i, hd] @ k[0, j, hd] / math.sqrt(d) + bias)
                values.append(v[0, j, hd])
            out[0, i, hd] = torch.softmax(torch.stack(scores), 0) @ torch.stack(values)
    return out.reshape(b, n, c) @ p["attn.wo"].t() + p["attn.bo"]


class WindowAttentionTest(unittest.TestCase):
    def test_partition_and_reverse_are_inverse(self):
        x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float64).view(2, 8, 8, 3)
        win = swin.window_partition(x, 4)
        self.assertEqual(win.shape, (8, 16, 3))
        self.assertTrue(torch.equal(win[1, 0], x[0, 0, 4]))  # window 1 of sample 0 starts at column 4
        self.assertTrue(torch.equal(swin.window_reverse(win, 4, 8, 8), x))

    def test_plain_and_shifted_windows_equal_the_direct_rule(self):
        gen = torch.Generator().manual_seed(3)
        grid, w, c, heads = 8, 4, 8, 2
        p = params(c, heads, w, gen)
        x = torch.randn(1, grid * grid, c, generator=gen, dtype=torch.float64)
        for layer_in_stage in (0, 1):
            shift = swin.shift_size(grid, w, layer_in_stage)
            self.assertEqual(shift, 2 * layer_in_stage)
            got = swin.window_attention(x, p, grid, w, shift, SOLO, heads)
            want = direct_attention(x, p, grid, w, shift, heads)
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    def test_gradients_equal_autograd_through_the_direct_rule(self):
        # _WindowCore's own backward (scores recomputed, the table's gradient scattered to its offsets)
        # against autograd through the per-pair computation, for x and every parameter.
        gen = torch.Generator().manual_seed(4)
        grid, w, c, heads = 4, 2, 4, 2
        for layer_in_stage in (0, 1):
            shift = swin.shift_size(grid, w, layer_in_stage)
            p = {k: t.requires_grad_(True) for k, t in params(c, heads, w, gen).items()}
            x = torch.randn(1, grid * grid, c, generator=gen, dtype=torch.float64, requires_grad=True)
            probe = torch.randn(1, grid * grid, c, generator=gen, dtype=torch.float64)
            got = torch.autograd.grad((swin.window_attention(x, p, grid, w, shift, SOLO, heads) * probe).sum(), [x, *p.values()])
            want = torch.autograd.grad((direct_attention(x, p, grid, w, shift, heads) * probe).sum(), [x, *p.values()])
            for name, a, b in zip(["x", *p], got, want):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=f"{name}, shift {shift}")

    def test_the_shift_mask_separates_wrapped_regions(self):
        mask = swin.shifted_window_mask(8, 8, 4, 2, torch.float64)
        self.assertEqual(mask.shape, (4, 16, 16))
        self.assertTrue(torch.all(mask[0] == 0))  # the top-left window holds one region
        # the bottom-right window holds four regions of 4 tokens each: 4·4·4 visible pairs of 256
        self.assertEqual(int((mask[3] == 0).sum()), 64)
        self.assertIsNone(swin.shifted_window_mask(8, 8, 4, 0, torch.float64))
        self.assertEqual(swin.shift_size(7, 7, 1), 0)  # one window covers Swin's last 7 × 7 grid

    def test_relative_index_covers_the_table(self):
        idx = swin.relative_position_index(3)
        self.assertEqual(idx.shape, (9, 9))
        self.assertEqual(int(idx[0, 0]), (3 - 1) * 5 + (3 - 1))  # offset (0, 0) sits in the middle
        self.assertEqual(sorted(set(idx.flatten().tolist())), list(range(25)))


def merge_params(gen: torch.Generator, c: int) -> dict:
    """Random patch-merging weights for c input channels: the norm over 4c, the projection 4c → 2c."""
    return {
        "merge.norm.weight": torch.randn(4 * c, generator=gen, dtype=torch.float64),
        "merge.norm.bias": torch.randn(4 * c, generator=gen, dtype=torch.float64),
        "merge.w": torch.randn(2 * c, 4 * c, generator=gen, dtype=torch.float64),
    }


class PatchMergingTest(unittest.TestCase):
    def test_two_by_two_blocks_normed_and_projected(self):
        gen = torch.Generator().manual_seed(5)
        b, grid, c = 2, 4, 3
        x = torch.randn(b, grid * grid, c, generator=gen, dtype=torch.float64)
        p = merge_params(gen, c)
        got = swin.patch_merging(x, p, grid)
        self.assertEqual(got.shape, (b, 4, 2 * c))
        g = x.view(b, grid, grid, c)
        for i in range(2):
            for j in range(2):
                block = torch.cat([g[:, 2 * i, 2 * j], g[:, 2 * i + 1, 2 * j], g[:, 2 * i, 2 * j + 1], g[:, 2 * i + 1, 2 * j + 1]], -1)
                want = F.layer_norm(block, (4 * c,), p["merge.norm.weight"], p["merge.norm.bias"], eps=1e-5) @ p["merge.w"].t()
                torch.testing.assert_close(got[:, i * 2 + j], want, rtol=1e-12, atol=1e-12)

    def test_a_band_of_whole_row_pairs_merges_alone(self):
        # SP with TP dividing the merged side: each band of rows gives exactly its part of the merged tokens.
        gen = torch.Generator().manual_seed(6)
        b, grid, c, tp = 2, 8, 3, 2
        x = torch.randn(b, grid * grid, c, generator=gen, dtype=torch.float64)
        p = merge_params(gen, c)
        whole = swin.patch_merging(x, p, grid)
        bands = [swin.patch_merging(part, p, grid, rows=grid // tp) for part in x.chunk(tp, dim=1)]
        torch.testing.assert_close(torch.cat(bands, dim=1), whole, rtol=0, atol=0)


if __name__ == "__main__":
    unittest.main()


class ModelShapeTest(unittest.TestCase):
    """The layers the executor builds are the ones the search prices (src/model/derived.ts swinGroups,
    layerParameters, embeddingShape): numbers from `parameterCounts` of the same models."""

    @staticmethod
    def config(path: str):
        import json
        import os

        from galvatron_runtime.plan import _model

        root = os.path.join(os.path.dirname(__file__), "..", "..")
        with open(os.path.join(root, path), encoding="utf-8") as f:
            return _model({"model": json.load(f)})

    def test_tiny_swin_shapes_and_parameters(self):
        from galvatron_runtime.plan import layer_io, swin_layers

        cfg = self.config("examples/tiny-swin.json")
        layers = swin_layers(cfg)
        self.assertEqual([(l.grid, l.window, l.hidden, l.heads, l.merge) for l in layers], [
            (16, 4, 16, 2, False), (16, 4, 16, 2, False),
            (8, 4, 32, 4, True), (8, 4, 32, 4, False),
            (4, 4, 64, 8, True), (4, 4, 64, 8, False),
        ])
        self.assertEqual(layer_io(cfg, 256)[2], ((256, 16), (64, 32)))  # a merge: 4x the tokens at half the width in
        self.assertEqual([swin.shift_size(l.grid, l.window, l.in_stage) for l in layers], [0, 2, 0, 2, 0, 0])
        total = lambda specs: sum(math.prod(s.shape) for s in specs)  # noqa: E731
        self.assertEqual(total(swin.embed_specs(cfg)), 240)
        self.assertEqual(sum(total(swin.layer_specs(cfg, l)) for l in layers), 143_932)
        self.assertEqual(total(swin.head_specs(cfg)), 648)

    def test_swin_large_with_shrunk_depths_counts_as_priced(self):
        cfg = self.config("examples/swin-large-8-layers.json")
        self.assertEqual(swin.parameter_count(cfg), 83_061_628)  # 9,792 + 81,511,764 + 1,540,072
