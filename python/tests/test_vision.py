"""ViT's ends (vision.py) against independent computations: the patch embedding against a stride-p
convolution, the classifier's loss against torch's cross-entropy, and the synthetic images as a pure,
learnable function of (seed, sample)."""
import unittest
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from galvatron_runtime import vision
from galvatron_runtime.comm import Group

SOLO = Group((0,), None, 0)


def vit_cfg(**kw):
    base = dict(hidden=8, vocab=5, patch_size=2, channels=3, image_size=4, norm="layernorm", family="vit")
    base.update(kw)
    return SimpleNamespace(**base)


class PatchEmbeddingTest(unittest.TestCase):
    def test_equals_a_stride_p_convolution_with_class_token_and_positions(self):
        torch.manual_seed(0)
        cfg = vit_cfg()
        images = torch.randn(2, 3, 4, 4, dtype=torch.float64)
        w = torch.randn(8, 3 * 2 * 2, dtype=torch.float64)
        p = {
            "patch.w": w,
            "patch.b": torch.randn(8, dtype=torch.float64),
            "cls": torch.randn(8, dtype=torch.float64),
            "wpe": torch.randn(5, 8, dtype=torch.float64),
        }
        out = vision.patch_embed_forward(images, p, SOLO, False, cfg)
        conv = F.conv2d(images, w.view(8, 3, 2, 2), p["patch.b"], stride=2)  # [b, h, 2, 2]
        expect = conv.flatten(2).transpose(1, 2)  # [b, 4 patches, h], row-major
        expect = torch.cat([p["cls"].expand(2, 1, 8), expect], dim=1) + p["wpe"]
        self.assertEqual(out.shape, (2, 5, 8))
        torch.testing.assert_close(out, expect, rtol=1e-12, atol=1e-12)


class ClassifierTest(unittest.TestCase):
    def test_loss_is_the_mean_cross_entropy_of_the_class_token(self):
        torch.manual_seed(1)
        cfg = vit_cfg()
        x = torch.randn(3, 5, 8, dtype=torch.float64)
        p = {
            "norm.weight": torch.randn(8, dtype=torch.float64),
            "norm.bias": torch.randn(8, dtype=torch.float64),
            "classifier.w": torch.randn(5, 8, dtype=torch.float64),
            "classifier.b": torch.randn(5, dtype=torch.float64),
        }
        labels = torch.tensor([0, 4, 2])
        # total_samples 6: this micro-batch is half of a global batch of 6, so its share is sum / 6.
        loss = vision.classifier_forward(x, p, labels, SOLO, False, cfg, 6)
        h = F.layer_norm(x[:, 0], (8,), p["norm.weight"], p["norm.bias"], eps=1e-5)
        expect = F.cross_entropy(h @ p["classifier.w"].t() + p["classifier.b"], labels, reduction="sum") / 6
        torch.testing.assert_close(loss, expect, rtol=1e-12, atol=1e-12)


class SyntheticImagesTest(unittest.TestCase):
    def test_a_pure_function_of_seed_and_sample(self):
        a = vision.SyntheticImages(10, 3, 8, seed=7)
        b = vision.SyntheticImages(10, 3, 8, seed=7)
        ia, ca = a.sample(123)
        ib, cb = b.sample(123)
        self.assertEqual(ca, cb)
        self.assertTrue(torch.equal(ia, ib))
        images, labels = vision.image_batch(a, 2, 4, 1, 3)  # samples 9, 10, 11
        self.assertEqual(images.shape, (3, 3, 8, 8))
        self.assertEqual(labels.tolist(), [a.sample(g)[1] for g in (9, 10, 11)])
        self.assertNotEqual(vision.SyntheticImages(10, 3, 8, seed=8).sample(123)[0].sum().item(), ia.sum().item())

    def test_learnable_the_nearest_prototype_finds_the_class(self):
        # Every class is its prototype plus noise of 0.5: the nearest prototype recovers the class, so the
        # labels carry information a classifier can learn (with uniform random images it could not).
        data = vision.SyntheticImages(1000, 3, 8, seed=0)
        protos = torch.stack([data.prototype(c) for c in range(1000)]).flatten(1)
        hits = 0
        for g in range(50):
            image, c = data.sample(g)
            hits += int(torch.cdist(image.flatten()[None], protos).argmin().item() == c)
        self.assertEqual(hits, 50)


if __name__ == "__main__":
    unittest.main()
