"""Helpers shared by tests (importable because pyproject puts tests/ on the path)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_shared() -> Path | None:
    """The project's read-only shared folder (Click's tests, configs, benchmarks)."""
    candidates = [os.environ.get("CLICKPY_SHARED"), REPO.parent / "shared", "/work/shared"]
    for c in candidates:
        if c and (Path(c) / "conformance").is_dir():
            return Path(c)
    return None
