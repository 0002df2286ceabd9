"""Click's own sample configurations (54 files) go through the front end.

Each must parse, elaborate and flatten; its flat form must parse back to the
same graph; and `check` may only complain about classes clickpy does not
have (named, with a landmark), never about the language or the wiring.
"""
import re
import shutil
import subprocess
import sys

import pytest

from clickpy import pipeline
from support import find_shared

SHARED = find_shared()
CONFIGS = sorted((SHARED / "conformance" / "configs").glob("*.click")) if SHARED else []
CLASS_ONLY = re.compile(
    # A landmark is file:line:col, or just the file after a '# 0 "file"' directive.
    r"^\S+?(?::\d+:\d+)?: (element class '\w+' is not implemented in clickpy yet"
    r"|unknown element class '\w+'.*|undeclared element '\w+'.*)$"
)


def test_all_54_sample_configs_are_present(shared_dir):
    assert len(CONFIGS) == 54


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_sample_config_parses_elaborates_and_flattens(path, tmp_path):
    source = pipeline.Source(path.read_bytes().decode("latin-1"), str(path))
    result = pipeline.load(source, run_check=False)
    assert result.ok, result.diagnostics.format()
    flat = result.graph.unparse()
    again = pipeline.load(pipeline.Source(flat, "flat.click"), run_check=False)
    assert again.ok, again.diagnostics.format()
    assert again.graph.signature() == result.graph.signature()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_sample_config_check_reports_only_missing_classes(path):
    source = pipeline.Source(path.read_bytes().decode("latin-1"), str(path))
    result = pipeline.load(source)
    for line in result.diagnostics.format().splitlines():
        assert CLASS_ONLY.match(line), line


def test_check_command_on_a_sample_config(shared_dir, tmp_path):
    """The CLI: exit 1 and every error in one pass, each with file:line:col:
    the classes clickpy lacks and the configuration errors of the ones it has."""
    src = shared_dir / "conformance" / "configs" / "mazu-nat.click"
    config = tmp_path / "mazu-nat.click"
    shutil.copy(src, config)
    proc = subprocess.run([sys.executable, "-m", "clickpy", "check", str(config)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    lines = [x for x in proc.stderr.splitlines() if x.startswith(f"{config}:")]
    missing = [x for x in lines if "is not implemented in clickpy yet" in x]
    assert [x.split(": ", 1)[0] for x in missing] == [f"{config}:84:12", f"{config}:85:12"], proc.stderr
    configuring = [x for x in lines if "While configuring" in x]
    assert [x.split(": ", 1)[0] for x in configuring] == [f"{config}:{n}" for n in ("93:5", "105:24", "112:22")]
    assert proc.stderr.count("DEVNAME: required argument missing") == 3
