"""Paint, Strip, Unstrip, Truncate, Pad, Resize, Align, Clipboard."""
import struct

import pytest
from harness import run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

SOURCE = "HarnessFeed({packets}) -> q :: Queue -> Unqueue(BURST {burst})"


def through(element, packets, burst=32, n=None):
    """Records of the packets after element (batch path with burst > 1)."""
    count = n if n is not None else len(packets.split(","))
    r = run_router(SOURCE.format(packets=packets, burst=burst) + f" -> e :: {element} -> rec :: HarnessRecord({count});"
                   " DriverManager(wait 1s, stop)")
    return r


def datas(r):
    return [x.data for x in r.element("rec").log]


def extra_length(anno):
    return struct.unpack_from("<I", anno, 28)[0]


# --- Paint ------------------------------------------------------------------


@pytest.mark.parametrize("burst", [1, 32])
def test_paint_sets_the_paint_annotation(burst):
    r = through("Paint(7)", "01/0, 02/200", burst)
    assert [x.paint for x in r.element("rec").log] == [7, 7]


def test_paint_other_annotations_by_name_and_offset():
    r = through("Paint(9, FIX_IP_SRC)", "01")
    assert r.element("rec").log[0].anno[19] == 9
    r = through("Paint(5, 40)", "01")
    assert r.element("rec").log[0].anno[40] == 5 and r.element("rec").log[0].paint == 0


def test_paint_arguments_and_handler():
    r = build_router("Idle -> p :: Paint(1) -> Discard")
    assert r.read("p.color") == "1"
    r.write("p.color", "255")
    assert r.read("p.color") == "255"
    with pytest.raises(HandlerError):
        r.write("p.color", "-1")
    for bad, message in [("Paint", "COLOR"), ("Paint(256)", "COLOR: expected integer between 0 and 255"),
                         ("Paint(1, DST_IP)", "ANNO: expected 1-byte annotation"),
                         ("Paint(1, 48)", "ANNO: expected annotation"),
                         ("Paint(1, NOPE)", "ANNO: expected annotation")]:
        with pytest.raises(ConfigError) as e:
            build_router(f"Idle -> {bad} -> Discard")
        assert message in str(e.value), bad


# --- Strip / Unstrip ------------------------------------------------------------


@pytest.mark.parametrize("burst", [1, 32])
def test_strip_and_unstrip(burst):
    r = through("Strip(2) -> Unstrip(1)", "01020304, 0506, 07", burst)
    # Unstrip brings back the byte Strip removed; a packet shorter than 2 loses everything.
    assert datas(r) == [b"\x02\x03\x04", b"\x06", b"\x07"]


def test_unstrip_restores_stripped_bytes_of_a_shared_packet():
    r = run_config("InfiniteSource(DATA \\<aabbccdd>, LIMIT 2, STOP true) -> Strip(3) -> Unstrip(3)"
                   " -> Print(CONTENTS HEX) -> Discard")
    assert [l.split("|")[1].strip() for l in r.stderr.splitlines() if "|" in l] == ["aabbccdd", "aabbccdd"]


def test_unstrip_beyond_the_headroom_grows_the_packet():
    r = through("Unstrip(100)", "0102")
    assert len(datas(r)[0]) == 102 and datas(r)[0][-2:] == b"\x01\x02"


def test_strip_arguments():
    for bad in ("Strip", "Strip(-1)", "Strip(x)", "Unstrip", "Unstrip(1, 2)"):
        with pytest.raises(ConfigError):
            build_router(f"Idle -> {bad} -> Discard")


# --- Truncate / Pad -------------------------------------------------------------


@pytest.mark.parametrize("burst", [1, 32])
def test_truncate_and_extra_length(burst):
    r = through("Truncate(2)", "01020304, 0506, 07", burst)
    assert datas(r) == [b"\x01\x02", b"\x05\x06", b"\x07"]
    assert [extra_length(x.anno) for x in r.element("rec").log] == [2, 0, 0]
    r = through("Truncate(2, EXTRA_LENGTH false)", "01020304", burst)
    assert extra_length(r.element("rec").log[0].anno) == 0


def test_truncate_then_pad_restores_the_length():
    # As Click's Pad-01: Pad without LENGTH puts back what Truncate took, as zeros.
    r = through("Truncate(2) -> Pad", "01020304, 05")
    assert datas(r) == [b"\x01\x02\x00\x00", b"\x05"]
    assert [extra_length(x.anno) for x in r.element("rec").log] == [0, 0]


def test_pad_to_a_length():
    r = through("Pad(4)", "01, 0102030405")
    assert datas(r) == [b"\x01\x00\x00\x00", b"\x01\x02\x03\x04\x05"]
    r = through("Truncate(1) -> Pad(3)", "010203")
    assert datas(r) == [b"\x01\x00\x00"] and extra_length(r.element("rec").log[0].anno) == 0


def test_pad_zero_false_leaves_bytes_undefined_but_the_length_right():
    r = through("Pad(64, ZERO false)", "01")
    assert len(datas(r)[0]) == 64 and datas(r)[0][0] == 1


def test_pad_beyond_any_buffer_drops_and_counts():
    r = through("Pad(200000)", "01, 02", n=0)
    assert datas(r) == [] and r.element("e").dropped == 2


def test_truncate_handler_and_arguments():
    r = build_router("Idle -> t :: Truncate(10) -> Discard")
    assert r.read("t.nbytes") == "10"
    r.write("t.nbytes", "4")
    assert r.read("t.nbytes") == "4"
    with pytest.raises(HandlerError):
        r.write("t.nbytes", "x")
    for bad in ("Truncate", "Truncate(-1)", "Pad(x)", "Pad(ZERO maybe)"):
        with pytest.raises(ConfigError):
            build_router(f"Idle -> {bad} -> Discard")


# --- Resize -----------------------------------------------------------------------


def test_resize_keeps_headroom_bytes_like_clicks_resize_01():
    r = run_config('InfiniteSource(DATA "ABCD", LIMIT 1, STOP true) -> Print() -> Resize(HEAD -2) -> Print()'
                   " -> Resize(+4, -2) -> Print() -> Resize() -> Print() -> Resize(HEAD -8) -> Print() -> Discard()")
    lines = r.stderr.splitlines()
    assert lines[0] == "   4 | 41424344" and lines[1] == "   2 | 4344"
    assert lines[2].startswith("   4 | ") and lines[2].endswith("4142") and lines[3] == lines[2]
    assert lines[4] == "   0"


@pytest.mark.parametrize("burst", [1, 32])
def test_resize_head_and_tail(burst):
    r = through("Resize(-1, -1)", "010203, 01", burst)
    assert datas(r) == [b"\x02", b""]
    r = through("Resize(0, 3)", "01", burst)
    assert len(datas(r)[0]) == 4 and datas(r)[0][0] == 1


def test_resize_handlers():
    r = build_router("Idle -> z :: Resize(1, 2) -> Discard")
    assert (r.read("z.head"), r.read("z.tail")) == ("1", "2")
    r.write("z.head", "-3")
    assert r.read("z.head") == "-3"
    with pytest.raises(HandlerError):
        r.write("z.tail", "x")


# --- Align --------------------------------------------------------------------------


@pytest.mark.parametrize("modulus, offset", [(4, 2), (8, 0), (8, 5), (2, 1)])
def test_align_places_the_data_at_the_offset(modulus, offset):
    # Buffers start 8-byte aligned, so the data address is aligned like the headroom.
    r = through(f"Strip(1) -> Align({modulus}, {offset})", "0001020304, 000a0b, 00")
    assert datas(r) == [b"\x01\x02\x03\x04", b"\x0a\x0b", b""]
    assert all(x.headroom % modulus == offset for x in r.element("rec").log)


def test_align_copies_a_shared_packet():
    r = run_config("InfiniteSource(DATA \\<0102030405>, LIMIT 2, STOP true) -> Strip(1) -> t :: Tee"
                   " -> Align(4, 3) -> Print(a, HEADROOM true) -> Discard; t[1] -> Print(b, HEADROOM true) -> Discard")
    lines = [l for l in r.stderr.splitlines() if "|" in l]
    assert all(l.endswith("| 02030405") for l in lines)
    heads = [int(l.split("(h")[1].split()[0]) for l in lines if l.startswith("a")]
    assert heads and all(h % 4 == 3 for h in heads)


def test_align_arguments():
    for bad, message in [("Align(3, 0)", "MODULUS must be 2, 4, or 8"), ("Align(4, 4)", "OFFSET must be smaller"),
                         ("Align(4)", "OFFSET")]:
        with pytest.raises(ConfigError) as e:
            build_router(f"Idle -> {bad} -> Discard")
        assert message in str(e.value)


# --- Clipboard -------------------------------------------------------------------------


def test_clipboard_copies_ranges_between_streams():
    # As Clipboard-01: "Sam is a cat" from "Simplistic" and ".a. is a .at,".
    r = run_router("a :: HarnessFeed(" + b"Simplistic".hex() + ") -> aq :: Queue -> u1 :: Unqueue -> [0] c :: Clipboard(0/1, 2/1, 9/1)"
                   " -> Discard;"
                   " b :: HarnessFeed(" + b".a. is a .at,".hex() + ", 0102) -> bq :: Queue -> u2 :: Unqueue(false) -> [1] c [1]"
                   " -> rec :: HarnessRecord(2); Script(wait 1s, write u2.active true, wait 1s)")
    assert datas(r) == [b"Sam is a cat,", b"\x01\x02"]    # too short: unchanged


def test_clipboard_pull_and_short_copies():
    r = run_router("a :: HarnessFeed(aabb, cc) -> aq :: Queue -> [0] c :: Clipboard(1/1) -> ua :: Unqueue -> Discard;"
                   " b :: HarnessFeed(0000, 0000) -> bq :: Queue -> [1] c; c[1] -> ub :: Unqueue(false)"
                   " -> rec :: HarnessRecord(2); Script(wait 1s, write ub.active true, wait 1s)")
    # 'cc' is too short for range 1/1: the clipboard keeps 'bb'.
    assert datas(r) == [b"\x00\xbb", b"\x00\xbb"]


def test_clipboard_arguments():
    for bad, message in [("Clipboard(3)", "range 0: expected '/' between offset and length"),
                         ("Clipboard(1/2, x/1)", "range 1: invalid offset or length"),
                         ("Clipboard(/1)", "range 0: expected '/'")]:
        with pytest.raises(ConfigError) as e:
            build_router(f"cb :: {bad}; Idle -> [0] cb [0] -> Discard; Idle -> [1] cb [1] -> Discard")
        assert message in str(e.value)
