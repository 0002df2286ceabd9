"""The fuzz harness shared by tests/fuzz: corpus, watchdog, counts, long runs.

Each target is a function of one input that raises AssertionError (or any
exception) when clickpy misbehaves on it. Hypothesis generates inputs; every
input that ever failed is kept in ``tests/fuzz/corpus/<target>/`` and
replayed by every run, so a fixed bug stays fixed.

In CI each target tries a bounded number of inputs (the hypothesis profile
``ci``). By hand, run as long as wanted::

    CLICKPY_FUZZ_SECONDS=600 python3 -m pytest tests/fuzz -p no:randomly -s

which repeats each target's exploration with fresh random inputs until its
time is up, then prints how many inputs each target tried and how many failed.
"""
from __future__ import annotations

import hashlib
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path

CORPUS = Path(__file__).parent / "fuzz" / "corpus"
# An input that takes this long is a hang, whatever the machine's load.
HANG_SECONDS = 60.0

TALLY: dict[str, list[int]] = {}  # target -> [inputs tried, failures]
# The latest failing input per target: after hypothesis has shrunk a failure,
# the last one is the smallest, and that is the one kept.
_LAST_FAILURE: dict[str, tuple[bytes, str]] = {}


def fuzz_seconds() -> float:
    """How long each target explores (0: one bounded round, as in CI)."""
    return float(os.environ.get("CLICKPY_FUZZ_SECONDS", "0") or 0)


def corpus(target: str) -> list[Path]:
    folder = CORPUS / target
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def record(target: str, data: bytes, suffix: str) -> Path:
    """Keep a failing input in the corpus (named by its content, so once only)."""
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha1(data).hexdigest()[:16] + suffix)
    if not path.exists():
        path.write_bytes(data)
    return path


class Hang(Exception):
    pass


@contextmanager
def watchdog(seconds: float = HANG_SECONDS):
    """Raise Hang in this (main) thread if the body runs longer than seconds."""
    def expired(signum, frame):
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_target(target: str, check, data: bytes, suffix: str, keep: bool = True) -> None:
    """Run check(data) under the watchdog, counting it; explore() keeps the
    smallest failure in the corpus."""
    tally = TALLY.setdefault(target, [0, 0])
    tally[0] += 1
    try:
        with watchdog():
            check(data)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        tally[1] += 1
        if keep:
            _LAST_FAILURE[target] = (data, suffix)
        raise


def explore(run_once) -> None:
    """Run a hypothesis test once, or again and again for CLICKPY_FUZZ_SECONDS;
    a failure it ends with is kept in the corpus."""
    seconds = fuzz_seconds()
    end = time.monotonic() + seconds
    _LAST_FAILURE.clear()
    try:
        run_once()
        while time.monotonic() < end:
            run_once()
    except BaseException as e:
        for target, (data, suffix) in _LAST_FAILURE.items():
            e.add_note(f"input kept as {record(target, data, suffix)}")
        raise


def mutate(seed: bytes, edits, pieces: list[bytes]) -> bytes:
    """Apply (kind, position, size, piece index) edits to seed: the mutations
    a byte-level fuzzer makes (flip, delete, insert, duplicate, truncate)."""
    data = bytearray(seed)
    for kind, pos, size, which in edits:
        if not data and kind != "insert":
            kind = "insert"
        pos = pos % (len(data) + 1)
        if kind == "flip" and data:
            data[pos % len(data)] ^= 1 << (size % 8)
        elif kind == "byte" and data:
            data[pos % len(data)] = size % 256
        elif kind == "delete":
            del data[pos:pos + size]
        elif kind == "insert":
            data[pos:pos] = pieces[which % len(pieces)]
        elif kind == "duplicate":
            data[pos:pos] = data[pos:pos + size]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


def edits_strategy(max_edits: int = 8):
    from hypothesis import strategies as st

    return st.lists(st.tuples(st.sampled_from(["flip", "byte", "delete", "insert", "duplicate", "truncate"]),
                              st.integers(0, 1 << 16), st.integers(0, 64), st.integers(0, 1 << 10)),
                    max_size=max_edits)
