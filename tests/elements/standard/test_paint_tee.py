"""PaintTee: every packet on output 0, a copy of one colour's packets on output 1."""
import pytest

import clickpy
from harness import run_router
from support import build_router, run_config


def test_copies_only_the_colour_and_passes_everything():
    r = run_config("InfiniteSource(LIMIT 6, STOP true) -> rs :: RoundRobinSwitch;"
                   " rs[0] -> Paint(1) -> pt :: PaintTee(1); rs[1] -> Paint(2) -> pt;"
                   " pt -> a :: Counter -> Discard; pt[1] -> b :: Counter -> Discard",
                   "-h", "a.count", "-h", "b.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["a.count:", "6", "b.count:", "3"]


def test_another_annotation_and_the_color_handler():
    router = build_router("s :: InfiniteSource(LIMIT 4, STOP true) -> Paint(5, 17) -> pt :: PaintTee(5, 17);"
                          " pt -> a :: Counter -> Discard; pt[1] -> b :: Counter -> Discard")
    router.run()
    assert router.read("b.count").strip() == "4"
    router.write("pt.color", "6")
    router.write("s.reset", "")
    router.run()
    assert router.read("a.count").strip() == "8"
    assert router.read("b.count").strip() == "4"


def test_the_copy_is_a_separate_packet():
    router = build_router("Idle -> pt :: PaintTee(0) -> Discard; pt[1] -> Discard")
    pt = router.find("pt")
    packet = clickpy.PacketObject.make(b"x" * 60)
    pt.push_packet(0, packet)
    with pytest.raises(ValueError):          # handed on: it cannot be pushed again
        pt.push_packet(0, packet)
    with pytest.raises(ValueError):
        pt.push_packet(1, clickpy.PacketObject.make(b"y"))


@pytest.mark.parametrize("config, message", [
    ("PaintTee", "COLOR"),
    ("PaintTee(256)", "COLOR"),
    ("PaintTee(1, NOT_AN_ANNO)", "ANNO"),
])
def test_bad_configurations(config, message):
    r = run_config(f"Idle -> pt :: {config} -> Discard; pt[1] -> Discard")
    assert r.returncode != 0
    assert message in r.stderr
