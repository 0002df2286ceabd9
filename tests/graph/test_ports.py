import pytest

from clickpy.graph.ports import (
    UNLIMITED,
    PortSpecError,
    flow_pairs,
    parse_port_count,
    parse_processing,
    port_processing,
)


@pytest.mark.parametrize(
    "spec, ins, outs",
    [
        ("1/1", (1, 1), (1, 1)),
        ("1-2/0", (1, 2), (0, 0)),
        ("1/-6", (1, 1), (0, 6)),
        ("2-/-", (2, UNLIMITED), (0, UNLIMITED)),
        ("3", (3, 3), (3, 3)),
        ("-/1-", (0, UNLIMITED), (1, UNLIMITED)),
    ],
)
def test_port_count_ranges(spec, ins, outs):
    pc = parse_port_count(spec)
    assert (pc.in_lo, pc.in_hi) == ins and (pc.out_lo, pc.out_hi) == outs
    assert parse_port_count(str(pc)) == pc


def test_port_count_resolution_clamps_like_click():
    assert parse_port_count("1/1-2").resolve(0, 5) == (1, 2)
    assert parse_port_count("1-/=").resolve(3, 0) == (3, 3)
    assert parse_port_count("1-/=+").resolve(2, 0) == (2, 3)
    assert parse_port_count("0/0").resolve(1, 1) == (0, 0)


@pytest.mark.parametrize("bad", ["", "x", "1/a", "3-1/1", "1/=x"])
def test_bad_port_counts(bad):
    with pytest.raises(PortSpecError):
        parse_port_count(bad)


def test_processing_codes_repeat_the_last_letter():
    ins, outs = parse_processing("a/ah")
    assert [port_processing(ins, p) for p in range(2)] == ["agnostic", "agnostic"]
    assert [port_processing(outs, p) for p in range(3)] == ["agnostic", "push", "push"]
    ins, outs = parse_processing("h")
    assert ins == outs == ["push"]
    with pytest.raises(PortSpecError):
        parse_processing("q/h")


def test_flow_codes():
    assert flow_pairs("x/x", 2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert flow_pairs("#/#", 2, 2) == [(0, 0), (1, 1)]
    assert flow_pairs("xy/x", 2, 1) == [(0, 0)]
    assert flow_pairs("x/[^x]y", 1, 2) == []
    assert flow_pairs("x/[^y]y", 1, 2) == [(0, 0)]
    with pytest.raises(PortSpecError):
        flow_pairs("x[/x", 1, 1)
