"""The rewriters' tests import rewriter_helpers.py: this folder goes on
sys.path (the project runs pytest with --import-mode=importlib, which does
not add test folders). Every test of this folder leaves no packet
descriptor in use."""
import sys
from pathlib import Path

from harness import no_leaks  # noqa: F401  (an autouse fixture)

sys.path.insert(0, str(Path(__file__).resolve().parent))
