"""Ranks die with their launcher. Imports nothing heavy on purpose: the entry points call
``die_with_launcher()`` before ``import torch`` (about two seconds on a CPU box), so that a launcher killed
during start-up does not leave ranks importing, joining a rendezvous or writing anything afterwards."""
from __future__ import annotations

import os
import sys


def die_with_launcher() -> None:
    """Linux: get SIGKILL when the launcher (torchrun) dies.

    torchrun starts every rank in its own session, so `kill -9` of torchrun's process group would leave
    the ranks running (they only need each other once the process groups exist). With PR_SET_PDEATHSIG a
    killed launcher takes its ranks with it, as a killed job should: SIGKILL, so nothing more is written
    (a checkpoint being saved stays a .tmp-step-K directory that `latest` never names).
    GALVATRON_KEEP_RANKS=1 turns it off.
    """
    if not sys.platform.startswith("linux") or os.environ.get("GALVATRON_KEEP_RANKS") == "1":
        return
    if "TORCHELASTIC_RUN_ID" not in os.environ and "LOCAL_RANK" not in os.environ:
        return  # not started by torchrun
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        parent = os.getppid()
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the launcher died before the call
            os.kill(os.getpid(), signal.SIGKILL)
    except (OSError, AttributeError):
        pass
