"""stdout carries JSON lines only (one object per line, written with a single write); logs go to stderr."""
from __future__ import annotations

import json
import math
import os
import sys


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(_clean(obj), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    sys.stderr.write(f"galvatron-runtime: {message}\n")
    sys.stderr.flush()


def fail(message: str, code: int = 2, show: bool = True) -> "NoReturn":  # noqa: F821
    if show:
        sys.stderr.write(f"galvatron-runtime: error: {message}\n")
        sys.stderr.flush()
    raise SystemExit(code)


def install_stack_dump() -> None:
    """`kill -USR1 <pid>` prints every thread's Python stack to stderr (diagnosing a stuck collective)."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
        except (ValueError, OSError, AttributeError):  # stderr without a file descriptor (tests)
            pass


def exit_process(code: int) -> "NoReturn":  # noqa: F821
    """End a rank whose work is done: flush its output, then leave without the interpreter's teardown.

    After destroy_process_group a gloo background thread can still be joinable while the interpreter
    destroys its C++ globals, and the rank then aborts ("terminate called without an active exception")
    although every step and report was written: 2 of 8 CI runs of the train test failed that way. Every
    output is flushed here and no entry point registers atexit work, so skipping the teardown loses nothing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
