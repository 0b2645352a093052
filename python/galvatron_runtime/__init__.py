"""Galvatron-TS executor: runs a galvatron.plan/v1 plan layer by layer on torch.distributed.

See README.md in this folder for the module map. Entry points: ``python -m galvatron_runtime.train``,
``python -m galvatron_runtime.equivalence`` and ``python -m galvatron_runtime.validate``.
"""
import warnings

# The PyPI torch wheel warns on import when NumPy is absent; the executor never uses NumPy.
warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
