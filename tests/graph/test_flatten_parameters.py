"""Flattening keeps the file's define'd parameters symbolic, as click-flatten does.

The flat output carries the file-scope ``define`` (with any NAME=value
override) and ``$NAME`` where the configuration used it; compound formals and
compound-level defines are substituted. Parsed again, it builds the router the
original builds, for the defaults and for other values.
"""
import re
from pathlib import Path

import pytest

from clickpy import pipeline
from clickpy.lang import ast

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").rglob("*.click"))


def flat_text(text: str, definitions=None, filename="config") -> str:
    result = pipeline.load(pipeline.Source(text, filename), definitions, run_check=False, keep_parameters=True)
    assert result.ok, result.diagnostics.format()
    return result.graph.unparse()


def signature(text: str, definitions=None, filename="config"):
    result = pipeline.load(pipeline.Source(text, filename), definitions, run_check=False)
    assert result.ok, result.diagnostics.format()
    return result.graph.signature()


def top_level_parameters(text: str, filename: str) -> list[str]:
    result = pipeline.load(pipeline.Source(text, filename), run_check=False)
    return [name for s in result.program.statements if isinstance(s, ast.Define) for name, _, _ in s.definitions]


def test_every_shipped_config_is_checked():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_shipped_configs_keep_their_parameters_and_build_the_same_router(path):
    text = path.read_text()
    names = top_level_parameters(text, str(path))
    flat = flat_text(text, filename=str(path))
    if names:
        define = re.search(r"^define\((.*)\);$", flat, re.M)
        assert define, flat
        assert [item.split()[0] for item in define.group(1).split(", ")] == [f"${n}" for n in names]
    body = "\n".join(line for line in flat.splitlines() if not line.startswith("define("))
    for name in names:
        uses = re.findall(rf"\$\{{?{name}\b", re.sub(r"define\([^)]*\)", "", text))
        if uses:
            assert re.search(rf"\$\{{?{name}\b", body), f"${name} was substituted"
    assert signature(flat, filename=str(path)) == signature(text, filename=str(path))


def test_overrides_become_the_flat_defaults_and_can_be_overridden_again():
    text = "define($MTU 1500, $Q 10)\nIdle -> IPFragmenter($MTU) -> Queue($Q) -> Discard;\n"
    flat = flat_text(text, {"MTU": "9000"})
    assert flat.startswith("define($MTU 9000, $Q 10);\n\n")
    assert "IPFragmenter($MTU)" in flat and "Queue($Q)" in flat
    assert signature(flat) == signature(text, {"MTU": "9000"})
    assert signature(flat, {"Q": "3"}) == signature(text, {"MTU": "9000", "Q": "3"})


def test_a_command_line_parameter_the_file_does_not_define_is_added():
    flat = flat_text("Idle -> Queue(${N-5}) -> Discard;", {"N": "7"})
    assert flat.startswith("define($N 7);\n\n") and "Queue(${N-5})" in flat
    assert signature(flat) == signature("Idle -> Queue(7) -> Discard;")


def test_compound_formals_are_substituted_and_file_parameters_pass_through_them():
    text = (
        "define($MTU 1500)\n"
        "elementclass Frag { $m | define($inner 4); input -> IPFragmenter($m) -> Queue($inner) -> output }\n"
        "Idle -> f :: Frag($MTU) -> Discard; Idle -> g :: Frag(576) -> Discard;\n"
    )
    flat = flat_text(text)
    assert "f/IPFragmenter@1 :: IPFragmenter($MTU);" in flat
    assert "g/IPFragmenter@1 :: IPFragmenter(576);" in flat
    assert "f/Queue@2 :: Queue(4);" in flat
    assert signature(flat, {"MTU": "1400"}) == signature(text, {"MTU": "1400"})


def test_parameters_inside_double_quotes_survive():
    text = 'define($WHO "a b")\nIdle -> Print("$WHO ${WHO}") -> Discard;\n'
    flat = flat_text(text)
    assert 'Print("$WHO ${WHO}")' in flat
    assert signature(flat) == signature(text)


def test_without_keep_parameters_values_are_substituted():
    result = pipeline.load(pipeline.Source("define($N 3) Idle -> Queue($N) -> Discard", "c"), run_check=False)
    assert result.graph.parameters == []
    assert "Queue(3)" in result.graph.unparse() and "define" not in result.graph.unparse()
