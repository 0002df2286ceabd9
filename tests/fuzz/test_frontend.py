"""Fuzz the front end: any text ends, with located errors or a graph that prints back to itself.

Inputs: Click-language token soups, mutations of real configurations (this
project's, Click's samples and regression files), and the corpus of inputs
that once failed. For each: ``pipeline.load`` returns (no exception, no
hang); every error names file:line:col; a graph that checks prints as Click
source that parses back to the same graph.
"""
import re

import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO, find_shared

from clickpy import pipeline

TOKENS = [
    "a", "b", "x", "y", "Idle", "Discard", "Queue", "Tee", "Counter", "Null", "Print", "Script",
    "input", "output", "::", "->", "=>", "[", "]", "0", "1", "2", "-", ",", "{", "}", "(", ")", ";",
    "||", "...", "|", "elementclass", "define", "require", "provide", "library", "package",
    "$a", "$b", "${a}", "${a-1}", "${b[1]}", "$(add $a 1)", "/*", "*/", "//", "\n", '"', "'", "\\",
    "\\<0a>", "# 3 \"f.click\"\n", "#line 9\n", "@", "/", "x/y", "Foo@3", "65535", "65536",
    "10000000", "0x1f", "99999999999999999999", "__REST__", "$__REST__", "a b", " ", "\t",
]
TEXT_PIECES = [t.encode() for t in TOKENS]


def seeds() -> list[bytes]:
    found = sorted((REPO / "configs").glob("*.click"))
    shared = find_shared()
    if shared is not None:
        found += sorted((shared / "conformance" / "configs").glob("*.click"))[:30]
    return [p.read_bytes()[:4000] for p in found] + [b""]


SEEDS = seeds()
_LANDMARK = re.compile(r"^.+:\d+(:\d+)?: ")


def check_source(data: bytes) -> None:
    text = data.decode("latin-1")
    result = pipeline.load(pipeline.Source(text, "fuzz.click"))
    for d in result.diagnostics.errors:
        assert _LANDMARK.match(str(d)), f"error without file:line: {d}"
    if not result.ok:
        return
    printed = result.graph.unparse()
    again = pipeline.load(pipeline.Source(printed, "printed.click"))
    assert again.ok, f"printed graph does not check:\n{printed}\n{again.diagnostics.format()}"
    assert again.graph.signature() == result.graph.signature(), f"printed graph differs:\n{printed}"


@pytest.mark.parametrize("path", corpus("frontend"), ids=lambda p: p.name)
def test_corpus_input_ends_with_located_errors(path):
    run_target("frontend", check_source, path.read_bytes(), ".click", keep=False)


FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def test_token_soups():
    @FUZZ_SETTINGS
    @given(st.lists(st.sampled_from(TOKENS), max_size=60), st.lists(st.sampled_from(["", " ", "\n"]), max_size=60))
    def one(tokens, gaps):
        text = "".join(t + (gaps[i] if i < len(gaps) else " ") for i, t in enumerate(tokens))
        run_target("frontend", check_source, text.encode("latin-1"), ".click")

    explore(one)


def test_mutated_configurations():
    @FUZZ_SETTINGS
    @given(st.sampled_from(SEEDS), edits_strategy())
    def one(seed, edits):
        run_target("frontend", check_source, mutate(seed, edits, TEXT_PIECES), ".click")

    explore(one)


def test_random_bytes():
    @FUZZ_SETTINGS
    @given(st.binary(max_size=300))
    def one(data):
        run_target("frontend", check_source, data, ".click")

    explore(one)
