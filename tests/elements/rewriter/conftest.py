"""Fixtures for the rewriters' tests; the helpers live in rewriter_helpers.py
(this folder goes on sys.path so test modules can import it: the project runs
pytest with --import-mode=importlib, which does not add test folders)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rewriter_helpers import feed, run  # noqa: E402,F401  (pytest fixtures)
