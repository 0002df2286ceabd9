"""Every file on the must-pass list passes under `clickpy clicktest`."""
from pathlib import Path

import pytest

from clickpy.clicktest.cli import read_test_list
from clickpy.clicktest.runner import Outcome, run_test_file
from support import find_shared

LIST = Path(__file__).with_name("clicktest-must-pass.txt")
SHARED = find_shared()
ROOT = SHARED / "conformance" / "clicktest" if SHARED else Path("/nonexistent")
NAMES = [str(Path(p).relative_to(ROOT)) for p in read_test_list(LIST, ROOT)]


def test_list_is_not_empty_and_names_existing_files(shared_dir):
    assert NAMES
    missing = [n for n in NAMES if not (ROOT / n).is_file()]
    assert not missing, missing
    assert len(set(NAMES)) == len(NAMES), "duplicate entries"


@pytest.mark.parametrize("name", NAMES)
def test_must_pass(name, shared_dir):
    result = run_test_file(ROOT / name)
    assert result.outcome is Outcome.PASSED, "; ".join(result.reasons)


@pytest.mark.parametrize("name", NAMES)
def test_must_pass_specialised(name, shared_dir, monkeypatch):
    # Every file passes again with each 'clickpy run' building its config's
    # module first (--specialize wait): walks and fused chains change no output.
    monkeypatch.setenv("CLICKPY_SPECIALIZE", "wait")
    result = run_test_file(ROOT / name)
    assert result.outcome is Outcome.PASSED, "; ".join(result.reasons)
