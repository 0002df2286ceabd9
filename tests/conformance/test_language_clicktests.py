"""Click's language-level regression files, checked against clickpy's front end.

These `.clicktest` files (``compound/*``, ``tools/lexer-*``,
``standard/library-01``) compare what ``click-flatten`` and ``click -qo-``
print. Where a script needs the data path (``click`` running elements), this
test checks the parse/flatten half of the expectation itself, reading the
same files; the full scripts run under ``clickpy clicktest`` once their
elements exist (see clicktest-must-pass.txt).
"""
import os
import re
import subprocess
import sys

import pytest

from clickpy import pipeline
from clickpy.clicktest.format import parse_clicktest
from clickpy.clicktest.match import compare_output
from support import find_shared

SHARED = find_shared()
CLICKTEST = SHARED / "conformance" / "clicktest" if SHARED else None


def load(name):
    if CLICKTEST is None:
        pytest.fail("shared conformance folder not found (set CLICKPY_SHARED)")
    return parse_clicktest(CLICKTEST / name)


def flatten(text, filename="config", cwd=None):
    """Run 'clickpy flatten' as click-flatten would be run: Click-style landmarks."""
    proc = subprocess.run(
        [sys.executable, "-m", "clickpy", "flatten", "-"],
        input=text.encode("latin-1"), capture_output=True, cwd=cwd,
        env={**os.environ, "CLICKPY_CLICK_COMPAT": "1"},
    )
    return proc.stdout.decode("latin-1"), proc.stderr.decode("latin-1")


def join_and_sort(text):
    """The tests' 'fix' shell function: join continuation lines, then sort."""
    return "".join(sorted(line + "\n" for line in text.replace("\n    ", " ").splitlines()))


def script_config(test, index=0):
    """The text of the index-th -e '...' configuration in a test's script."""
    configs = re.findall(r"-e '(.*?)'", test.script, re.S) or re.findall(r'-e "(.*?)"', test.script, re.S)
    return configs[index]


def expect(test, name, actual):
    mismatch = compare_output(name, actual.encode("latin-1"), test.expectations[name], test.ignores_for(name))
    assert mismatch is None, f"{mismatch.summary}\n{mismatch.detail}"


def test_compact_01_flat_config_matches_the_config_handler():
    test = load("compound/compact-01.clicktest")
    out, err = flatten(script_config(test))
    assert err == ""
    expect(test, "stdout", out)


def test_variables_01_substitutes_indexed_variables():
    test = load("compound/variables-01.clicktest")
    result = pipeline.load(pipeline.Source(script_config(test), "config"), run_check=False)
    assert result.ok
    graph = result.graph
    order = {e.name: i for i, e in enumerate(graph.elements)}
    # Walk the chain from the source; each Print's label is its unquoted config.
    from clickpy.lang.confstring import unquote

    nxt = {f: t for f, _, t, _ in graph.connections}
    labels, i = [], order["InfiniteSource@1"]
    while i in nxt:
        i = nxt[i]
        if graph.elements[i].class_name == "Print":
            labels.append(unquote(graph.elements[i].config))
    # Print writes "LABEL:    0" for an empty packet, or "   0" with no label.
    printed = "".join(f"{x}:    0\n" if x else "   0\n" for x in labels)
    expect(test, "stderr", printed)


def test_input_01_five_spellings_give_one_graph():
    test = load("compound/input-01.clicktest")
    shapes = set()
    for k in range(5):
        result = pipeline.load(pipeline.Source(script_config(test, k), "config"), run_check=False)
        assert result.ok, result.diagnostics.format()
        g = result.graph
        chain = [(e.class_name, e.config) for e in g.elements]
        assert len(g.connections) == 2
        shapes.add(tuple(sorted(chain)))
    assert len(shapes) == 1


def flatten_expectations(test):
    """(config file, expectation name) for every 'click-flatten X.click ... > XO_TOOL' line."""
    pairs = []
    for m in re.finditer(r"^click-flatten (\S+)\s*(\|\s*fix\s*)?>\s*(\S+)", test.script, re.M):
        pairs.append((m.group(1), m.group(3), bool(m.group(2))))
    return pairs


@pytest.mark.parametrize(
    "name", ["tools/lexer-02.clicktest", "tools/lexer-04.clicktest", "tools/lexer-05.clicktest",
             "tools/lexer-07.clicktest"]
)
def test_lexer_files_flatten_as_click_does(name, tmp_path):
    test = load(name)
    pairs = flatten_expectations(test)
    assert pairs, "the test has click-flatten lines"
    for filename, data in test.files.items():
        (tmp_path / filename).write_bytes(data)
    errors = []
    for config, output, fix in pairs:
        proc = subprocess.run(
            [sys.executable, "-m", "clickpy", "flatten", config], capture_output=True, cwd=tmp_path,
            env={**os.environ, "CLICKPY_CLICK_COMPAT": "1"},
        )
        errors += proc.stderr.decode().splitlines()
        if output not in test.expectations:
            continue  # only its errors are checked (below)
        out = proc.stdout.decode("latin-1")
        expect(test, output, join_and_sort(out) if fix else out)
    if "stderr" in test.expectations:
        # The expected stderr has each error twice (from click-flatten and
        # from click, run on the same file); flatten's errors are the first of each.
        expected = [line for line in test.expectations["stderr"][0].body.decode().splitlines() if line]
        assert errors == list(dict.fromkeys(expected))


def test_library_01_requires_libraries_once(tmp_path):
    test = load("standard/library-01.clicktest")
    for filename, data in test.files.items():
        (tmp_path / filename).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / filename).write_bytes(data)
    out, err = flatten((tmp_path / "main").read_text(), cwd=tmp_path)
    # Read from stdin the including file is '<stdin>' in the current directory.
    assert err == ""
    assert out == "a/b/i :: Idle;\n\n"
