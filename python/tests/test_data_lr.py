"""The learnable synthetic data (data.py) and the default learning rate by model size (lr.py)."""
from __future__ import annotations

import math
import unittest

import torch

from galvatron_runtime.data import ALPHABET, MOTIF_LEN, MOTIFS, SyntheticData, batch
from galvatron_runtime.lr import GPT3_PEAK_LR, default_lr, parameter_count
from galvatron_runtime.plan import ModelConfig


class SyntheticGrammar(unittest.TestCase):
    def test_a_sample_is_a_function_of_seed_and_index(self):
        a, b = SyntheticData(50257, 128, 7), SyntheticData(50257, 128, 7)
        self.assertTrue(torch.equal(a.sample(123), b.sample(123)))
        self.assertFalse(torch.equal(a.sample(123), a.sample(124)))
        self.assertFalse(torch.equal(a.sample(123), SyntheticData(50257, 128, 8).sample(123)))
        self.assertEqual(tuple(a.sample(0).shape), (129,))
        # Splitting a step's batch differently gives the same samples.
        whole, _ = batch(a, 3, 8, 0, 8)
        half, _ = batch(a, 3, 8, 4, 4)
        self.assertTrue(torch.equal(whole[4:], half))

    def test_tokens_come_from_a_small_alphabet_of_the_vocabulary(self):
        d = SyntheticData(50257, 256, 0)
        tokens = torch.cat([d.sample(g) for g in range(200)])
        self.assertLessEqual(len(torch.unique(tokens)), ALPHABET)
        self.assertGreater(len(torch.unique(tokens)), ALPHABET // 2)
        self.assertTrue(bool((tokens < 50257).all()) and bool((tokens >= 0).all()))
        # A vocabulary smaller than the alphabet is used whole, and never exceeded.
        small = torch.cat([SyntheticData(16, 64, 0).sample(g) for g in range(50)])
        self.assertTrue(bool((small < 16).all()))

    def test_the_next_token_is_mostly_predictable(self):
        # Inside a motif the next token is fixed, so the empirical conditional entropy of the next token
        # given the current one is far below ln(alphabet) (uniform tokens would give about ln(vocab)).
        d = SyntheticData(1000, 512, 0)
        pairs: dict[int, dict[int, int]] = {}
        for g in range(100):
            t = d.sample(g).tolist()
            for x, y in zip(t, t[1:]):
                pairs.setdefault(x, {}).setdefault(y, 0)
                pairs[x][y] += 1
        total = sum(sum(c.values()) for c in pairs.values())
        entropy = 0.0
        for successors in pairs.values():
            n = sum(successors.values())
            entropy -= sum(c / total * math.log(c / n) for c in successors.values())
        self.assertLess(entropy, 0.5 * math.log(ALPHABET), f"conditional entropy {entropy:.3f} nats")
        # The floor set by motif boundaries: ln(MOTIFS) nats once every MOTIF_LEN tokens (repeated tokens
        # inside motifs only raise it).
        self.assertGreater(entropy, 0.5 * math.log(MOTIFS) / MOTIF_LEN)


class DefaultLearningRate(unittest.TestCase):
    def test_the_table_points_and_clamps(self):
        for params, lr in GPT3_PEAK_LR:
            self.assertAlmostEqual(default_lr(int(params)), lr, delta=lr * 1e-12)
        self.assertEqual(default_lr(1_000), 6.0e-4)
        self.assertEqual(default_lr(int(1e12)), 0.6e-4)

    def test_between_points_log_log_and_decreasing(self):
        # Halfway in log(parameters) between 1.3B and 2.7B: the geometric mean of their rates.
        mid = math.exp((math.log(1.3e9) + math.log(2.7e9)) / 2)
        self.assertAlmostEqual(default_lr(int(mid)), math.sqrt(2.0e-4 * 1.6e-4), delta=1e-9)
        sizes = [10 ** (8 + k / 10) for k in range(40)]
        rates = [default_lr(int(n)) for n in sizes]
        self.assertTrue(all(a >= b for a, b in zip(rates, rates[1:])))

    def test_parameter_count_matches_the_published_counts(self):
        # GPT-2 small: 124,439,808 (tied, learned positions, biases); LLaMA-2 7B: 6,738,415,616.
        gpt2 = ModelConfig("gpt", 12, 768, 12, 12, 3072, "gelu", 50257, 1024, True, "learned")
        llama = ModelConfig("llama", 32, 4096, 32, 32, 11008, "swiglu", 32000, 4096, False, "rope")
        self.assertEqual(parameter_count(gpt2), 124_439_808)
        self.assertEqual(parameter_count(llama), 6_738_415_616)
        # GPT-3 1.3B gets Table 2.1's 2e-4 within the interpolation (its count is not exactly 1.3e9).
        gpt3 = ModelConfig("gpt", 24, 2048, 16, 16, 8192, "gelu", 50257, 2048, True, "learned")
        self.assertLess(abs(default_lr(parameter_count(gpt3)) - 2.0e-4), 0.1e-4)


if __name__ == "__main__":
    unittest.main()
