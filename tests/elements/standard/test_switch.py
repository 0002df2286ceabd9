"""Push switches: Switch, StaticSwitch, RoundRobinSwitch, HashSwitch, PaintSwitch,
InputSwitch, CheckPaint. The batch path gives exactly the per-packet results."""
import re

import pytest
from harness import run_router
from support import build_router

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

# Ten different packets, with paints 0, 1, 2, 255 and out of range.
SOURCE = ("HarnessFeed(00/0, 0101/1, 0202/1, 03/2, 04/0, 0505/255, 06/9, 0707/2, 08/1, 0909/0)"
          " -> q :: Queue -> Unqueue(BURST {burst})")
NPACKETS = 10


def route(element, burst, noutputs=3, expect=None):
    """Per output, the packets element sends there (data, in arrival order)."""
    outs = "; ".join(f"s[{i}] -> [{i}] rec" for i in range(1, noutputs))
    cfg = (SOURCE.format(burst=burst) + f" -> s :: {element} -> [0] rec :: HarnessRecord({expect or -1}); {outs};"
           " DriverManager(wait 1s, stop)")
    r = run_router(cfg)
    return [(x.port, x.data) for x in r.element("rec").log]


ELEMENTS = [
    ("Switch(1)", 3),
    ("StaticSwitch(2)", 3),
    ("RoundRobinSwitch", 3),
    ("HashSwitch(0, 1)", 3),
    ("HashSwitch(0, 2)", 4),
    ("HashSwitch(0, 1)", 5),
    ("PaintSwitch", 3),
    ("CheckPaint(1)", 2),
    ("Bypass(true)", 2),
]


@pytest.mark.parametrize("element, noutputs", ELEMENTS)
def test_batch_path_equals_per_packet_path(element, noutputs):
    # All outputs meet in one recorder, so even the order across outputs counts.
    one = route(element, 1, noutputs)
    batch = route(element, 32, noutputs)
    assert one == batch and one


def test_switch_sends_everything_to_one_output_and_the_handler_moves_it():
    assert {p for p, _ in route("Switch(1)", 32)} == {1}
    r = build_router("Idle -> s :: Switch(2) => Discard, Discard, Discard")
    assert r.read("s.switch") == "2" and r.read("s.config") == "2"
    r.write("s.switch", "0")
    assert r.read("s.switch") == "0"
    r.write("s.switch", "7")      # not an output: drop everything
    assert r.read("s.switch") == "-1"
    with pytest.raises(HandlerError, match="Switch output must be integer"):
        r.write("s.switch", "x")


def test_switch_negative_output_drops():
    r = run_router(SOURCE.format(burst=32) + " -> c :: Counter -> s :: Switch(-1) -> rec :: HarnessRecord;"
                   " DriverManager(wait 1s, stop)")
    assert r.read("c.count") == str(NPACKETS) and r.element("rec").log == []


def test_switch_output_out_of_range_is_a_configure_error():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> s :: Switch(2) => Discard, Discard")
    assert "output must be < 2" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> s :: Switch(x) -> Discard")
    assert "OUTPUT: expected integer" in str(e.value)


def test_static_switch_is_fixed_and_out_of_range_drops():
    assert {p for p, _ in route("StaticSwitch(2)", 32)} == {2}
    assert route("StaticSwitch(5)", 32) == []
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> StaticSwitch -> Discard")
    assert re.search("OUTPUT.*missing|missing.*OUTPUT", str(e.value))


def test_round_robin_switch_takes_outputs_in_turn():
    got = route("RoundRobinSwitch", 32)
    assert [p for p, _ in got] == [i % 3 for i in range(NPACKETS)]


def hash_output(data, n):
    s = sum(data)
    return (s ^ (s >> 4)) & (n - 1) if n in (2, 4, 8) else s % n


@pytest.mark.parametrize("noutputs", [3, 4])
def test_hash_switch_sums_the_bytes(noutputs):
    got = route("HashSwitch(0, 2)", 32, noutputs)
    assert len(got) == NPACKETS
    for port, data in got:
        # One-byte packets are shorter than OFFSET + LENGTH: output 0.
        assert port == (hash_output(data[:2], noutputs) if len(data) >= 2 else 0)


def test_hash_switch_arguments():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> HashSwitch(0, 0) -> Discard")
    assert "length must be > 0" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> HashSwitch(0) -> Discard")
    assert re.search("LENGTH.*missing|missing.*LENGTH", str(e.value))
    with pytest.raises(ConfigError):
        build_router("Idle -> HashSwitch(-1, 2) -> Discard")


def test_paint_switch_routes_by_paint_and_255_means_every_output():
    got = route("PaintSwitch", 32)
    assert got == [
        (0, b"\x00"), (1, b"\x01\x01"), (1, b"\x02\x02"), (2, b"\x03"), (0, b"\x04"),
        (0, b"\x05\x05"), (1, b"\x05\x05"), (2, b"\x05\x05"),       # paint 255: everywhere
        (2, b"\x07\x07"), (1, b"\x08"), (0, b"\x09\x09"),           # paint 9: no such output, dropped
    ]


def test_paint_switch_other_annotation():
    got = route("PaintSwitch(17)", 32)
    assert {p for p, _ in got} == {0}    # annotation byte 17 is 0 everywhere
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> PaintSwitch(DST_IP) -> Discard")
    assert "ANNO: expected" in str(e.value)


def test_check_paint_passes_one_colour():
    got = route("CheckPaint(1)", 32, 2)
    assert got == [(1, b"\x00"), (0, b"\x01\x01"), (0, b"\x02\x02"), (1, b"\x03"), (1, b"\x04"),
                   (1, b"\x05\x05"), (1, b"\x06"), (1, b"\x07\x07"), (0, b"\x08"), (1, b"\x09\x09")]


def test_check_paint_without_second_output_drops():
    r = run_router(SOURCE.format(burst=32) + " -> CheckPaint(2) -> rec :: HarnessRecord(2)")
    assert [x.data for x in r.element("rec").log] == [b"\x03", b"\x07\x07"]


def test_check_paint_in_pull_context():
    r = run_router("HarnessFeed(00/0, 01/1, 02/1) -> q :: Queue -> c :: CheckPaint(1) -> Unqueue(BURST 32)"
                   " -> [0] rec :: HarnessRecord; c[1] -> [1] rec; DriverManager(wait 1s, stop)")
    assert [(x.port, x.data) for x in r.element("rec").log] == [(1, b"\x00"), (0, b"\x01"), (0, b"\x02")]
    r = run_router("HarnessFeed(00/0, 01/1, 02/1) -> q :: Queue -> c :: CheckPaint(1) -> Unqueue"
                   " -> [0] rec :: HarnessRecord; c[1] -> [1] rec; DriverManager(wait 1s, stop)")
    assert [(x.port, x.data) for x in r.element("rec").log] == [(1, b"\x00"), (0, b"\x01"), (0, b"\x02")]


def test_check_paint_color_handler_and_errors():
    r = build_router("Idle -> c :: CheckPaint(3) -> Discard")
    assert r.read("c.color") == "3"
    r.write("c.color", "200")
    assert r.read("c.color") == "200"
    with pytest.raises(HandlerError):
        r.write("c.color", "256")
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> CheckPaint(300) -> Discard")
    assert "COLOR: expected integer between 0 and 255" in str(e.value)


@pytest.mark.parametrize("burst", [1, 32])
def test_input_switch_forwards_one_input(burst):
    r = run_router(f"a :: HarnessFeed(0a, 0a) -> qa :: Queue -> Unqueue(BURST {burst}) -> [0] s :: InputSwitch(1);"
                   f" b :: HarnessFeed(0b, 0b) -> qb :: Queue -> Unqueue(BURST {burst}) -> [1] s;"
                   " s -> rec :: HarnessRecord; DriverManager(wait 1s, stop)")
    assert [x.data for x in r.element("rec").log] == [b"\x0b", b"\x0b"]


def test_input_switch_handlers_and_errors():
    r = build_router("Idle -> [0] s :: InputSwitch; Idle -> [1] s; s -> Discard")
    assert r.read("s.switch") == "0"
    r.write("s.switch", "1")
    assert r.read("s.config") == "1"
    r.write("s.switch", "2")
    assert r.read("s.switch") == "-1"
    with pytest.raises(HandlerError, match="InputSwitch input must be integer"):
        r.write("s.switch", "one")
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> [0] s :: InputSwitch(2); Idle -> [1] s; s -> Discard")
    assert "input must be < 2" in str(e.value)
