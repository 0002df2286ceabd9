"""IPFragmenter and IPReassembler: fragment shapes, DF, options, and round trips
(random sizes, shuffled, duplicated and overlapping fragments, timeouts, memory)."""
import random

import pytest
from harness import feed, run_router
from scapy.all import IP, UDP, Raw, defragment
from support import build_router

from clickpy.errors import ConfigError


def datagram(size, ident=1, src="10.0.0.1", dst="10.0.0.2", seed=0, **kw):
    rng = random.Random(seed)
    payload = bytes(rng.randrange(256) for _ in range(size))
    return bytes(IP(src=src, dst=dst, id=ident, **kw) / UDP(sport=9, dport=10) / Raw(payload))


def marked(data, **kw):
    return dict(data=data, net=0, **kw)


def checksum_ok(data):
    p = IP(data)
    q = p.copy()
    del q[IP].chksum
    return IP(bytes(q)).chksum == p.chksum


@pytest.fixture
def fragments_of():
    """fragments_of(data, mtu): the fragments' bytes, made by IPFragmenter."""
    def fragments_of(data, mtu):
        key = feed([marked(data)])
        r = run_router(f"HarnessFeed({key}) -> IPFragmenter({mtu}) -> rec :: HarnessRecord")
        return [x.data for x in r.element("rec").log]
    return fragments_of


# --- IPFragmenter ----------------------------------------------------------------------

@pytest.mark.parametrize("size, mtu", [(1000, 576), (1472, 1500), (3000, 68), (65000 - 28, 1500), (100, 60)])
def test_fragments_fit_and_defragment_to_the_original(size, mtu):
    data = datagram(size)
    key = feed([marked(data, paint=7, dst="1.2.3.4", ts=5.5)])
    r = run_router(f"HarnessFeed({key}) -> f :: IPFragmenter({mtu}) -> rec :: HarnessRecord")
    log = r.element("rec").log
    if len(data) <= mtu:
        assert [x.data for x in log] == [data]
        return
    frags = [IP(x.data) for x in log]
    assert all(len(x.data) <= mtu for x in log)
    assert all(checksum_ok(x.data) for x in log)
    assert [p.flags.MF for p in frags] == [1] * (len(frags) - 1) + [0]
    offsets = [p.frag * 8 for p in frags]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert all((p.len - 20) % 8 == 0 for p in frags[:-1])
    assert all(x.paint == 7 and x.dst_ip == "1.2.3.4" and x.ts == 5_500_000_000 for x in log)
    assert all((x.net, x.transport) == (0, 20) for x in log)
    [whole] = defragment(frags)
    assert bytes(whole)[20:] == data[20:]
    assert r.read("f.fragments") == str(len(frags))


def test_df_packets_go_to_output_1_unless_not_honored():
    big = datagram(1000, flags="DF")
    key = feed([marked(big), marked(datagram(10, flags="DF"))])
    r = run_router(f"HarnessFeed({key}) -> f :: IPFragmenter(576) -> [0] rec :: HarnessRecord; f[1] -> [1] rec")
    rec = r.element("rec")
    assert [x.data for x in rec.on(1)] == [big]
    assert len(rec.on(0)) == 1             # the small DF packet fits
    assert r.read("f.drops") == "1"
    key = feed([marked(big)])
    r = run_router(f"HarnessFeed({key}) -> f :: IPFragmenter(576, HONOR_DF false) -> rec :: HarnessRecord")
    frags = [IP(x.data) for x in r.element("rec").log]
    assert len(frags) == 2 and all(not p.flags.DF for p in frags)
    assert len({p.id for p in frags}) == 1
    assert bytes(defragment(frags)[0])[20:] == big[20:]


def test_only_copied_options_go_to_later_fragments():
    # LSRR (131, copied) and Record Route (7, not copied)
    lsrr = bytes([131, 7, 4, 9, 9, 9, 9])
    rr = bytes([7, 7, 4, 0, 0, 0, 0])
    data = bytes(IP(src="10.0.0.1", dst="10.0.0.2", options=lsrr + rr + b"\x00\x00") / Raw(bytes(200)))
    key = feed([marked(data)])
    r = run_router(f"HarnessFeed({key}) -> IPFragmenter(100) -> rec :: HarnessRecord")
    frags = [x.data for x in r.element("rec").log]
    assert frags[0][0] & 0x0F == 9 and frags[0][20:36] == data[20:36]
    for f in frags[1:]:
        assert f[0] & 0x0F == 7
        assert f[20:28] == lsrr + b"\x00"
        assert checksum_ok(f)
    assert b"".join(f[(f[0] & 15) * 4:] for f in frags) == data[36:]


def test_mtu_errors_and_malformed_packets():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> IPFragmenter(7) -> Idle")
    assert "MTU must be at least 8" in str(e.value)
    bad_len = bytearray(datagram(1000))
    bad_len[2:4] = (5000).to_bytes(2, "big")        # IP length past the packet
    key = feed([datagram(1000), marked(bytes(bad_len))])
    r = run_router(f"HarnessFeed({key}) -> f :: IPFragmenter(576) -> rec :: HarnessRecord")
    assert r.element("rec").log == []                # no header mark, then a bad length: dropped


# --- IPReassembler ------------------------------------------------------------------------

def reassemble(items, config="", expect_out1=False):
    key = feed(items)
    r = run_router(f"HarnessFeed({key}) -> r :: IPReassembler({config}) -> [0] rec :: HarnessRecord;"
                   + (" r[1] -> [1] rec" if expect_out1 else ""))
    assert r.element("r").check() == []
    return r


def check_whole(rec, original):
    assert rec.data[20:] == original[20:]
    p, o = IP(rec.data), IP(original)
    assert (p.len, p.src, p.dst, p.id, p.flags.MF, p.frag) == (o.len, o.src, o.dst, o.id, 0, 0)
    assert checksum_ok(rec.data)
    assert (rec.net, rec.transport) == (0, 20)


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_random_sizes_and_orders(fragments_of, seed):
    rng = random.Random(seed)
    originals, items = [], []
    for i in range(rng.randint(1, 6)):
        data = datagram(rng.randint(1, 5000), ident=rng.randrange(65536), seed=seed * 100 + i,
                        src=f"10.0.{seed}.{i + 1}")
        originals.append(data)
        frags = fragments_of(data, rng.choice([68, 100, 296, 576, 1500]))
        if rng.random() < 0.5:
            frags += rng.sample(frags, min(len(frags), 2))         # duplicates
        items += [marked(f, ts=1000 + i) for f in frags]
    rng.shuffle(items)
    r = reassemble(items)
    by_src = {IP(d).src: d for d in originals}
    log = r.element("rec").log
    # duplicates arriving after their datagram was done may make it again
    assert {IP(x.data).src for x in log} == set(by_src)
    for x in log:
        check_whole(x, by_src[IP(x.data).src])
    # (a duplicate arriving after its datagram was done starts a new, incomplete one)
    assert "bad fragments seen:  0\n" in r.read("r.dump")


def raw_fragment(original, start, end, more):
    """Fragment of original's payload [start, end) (start a multiple of 8)."""
    o = IP(original)
    return bytes(IP(src=o.src, dst=o.dst, id=o.id, proto=o.proto, flags="MF" if more else 0,
                    frag=start // 8) / Raw(original[20 + start:20 + end]))


def test_overlapping_fragments_later_bytes_win():
    data = datagram(200 - 28, ident=77)
    altered = bytearray(data)
    altered[20 + 40:20 + 64] = b"\xab" * 24
    frags = [raw_fragment(data, 0, 64, True), raw_fragment(bytes(altered), 40, 120, True),
             raw_fragment(data, 16, 48, True), raw_fragment(data, 112, 200, False)]
    r = reassemble([marked(f) for f in frags])
    [x] = r.element("rec").log
    want = bytearray(data)
    want[20 + 48:20 + 64] = b"\xab" * 16          # bytes 40..48 were overwritten again by the third
    assert x.data[20:] == bytes(want[20:])
    assert checksum_ok(x.data)


def test_gaps_then_fill_in_any_order():
    data = datagram(400 - 28, ident=5)
    pieces = [(0, 80, True), (160, 240, True), (320, 400, False), (80, 160, True), (240, 320, True)]
    for order in ([0, 1, 2, 3, 4], [2, 1, 0, 4, 3], [4, 2, 0, 3, 1]):
        r = reassemble([marked(raw_fragment(data, *pieces[i])) for i in order])
        [x] = r.element("rec").log
        check_whole(x, data)


def test_first_fragment_headers_and_annotations_win():
    data = bytes(IP(src="1.1.1.1", dst="2.2.2.2", id=3, options=b"\x01\x01\x01\x00") / Raw(bytes(range(100))))
    first = bytes(IP(src="1.1.1.1", dst="2.2.2.2", id=3, flags="MF", options=b"\x01\x01\x01\x00") / Raw(data[24:24 + 48]))
    second = bytes(IP(src="1.1.1.1", dst="2.2.2.2", id=3, frag=6) / Raw(data[24 + 48:]))
    frame = b"\xee" * 14
    items = [marked(second, paint=1, ts=10), dict(data=frame + first, net=14, paint=2, ts=11)]
    r = reassemble(items)
    [x] = r.element("rec").log
    assert x.data[:14] == frame and x.net == 14 and x.transport == 14 + 24
    assert x.data[14 + 24:] == data[24:]
    assert x.paint == 2 and x.ts == 11_000_000_000
    assert checksum_ok(x.data[14:])


def test_non_fragments_pass_and_bad_fragments_are_counted():
    whole = datagram(30)
    o = IP(whole)
    bad_mf_length = bytes(IP(src=o.src, dst=o.dst, id=9, flags="MF") / Raw(b"x" * 10))   # MF, not 8n
    empty = bytes(IP(src=o.src, dst=o.dst, id=9, flags="MF", frag=3))
    lying = bytearray(bytes(IP(src=o.src, dst=o.dst, id=9, flags="MF") / Raw(b"y" * 16)))
    lying[2:4] = (200).to_bytes(2, "big")                                                # longer than the packet
    r = reassemble([marked(whole), marked(bad_mf_length), marked(empty), marked(bytes(lying)), whole])
    assert [x.data for x in r.element("rec").log] == [whole]     # the unmarked one is dropped too
    dump = r.read("r.dump")
    assert "frags seen total:    3" in dump and "bad fragments seen:  4" in dump


def test_incomplete_datagrams_time_out_to_output_1(fragments_of):
    a = datagram(300, ident=1, src="10.0.0.1")
    b = datagram(300, ident=2, src="10.0.0.2")
    fa, fb = fragments_of(a, 100), fragments_of(b, 100)
    items = ([marked(f, ts=100) for f in fa[:-1]]            # a stays incomplete
             + [marked(fb[0], ts=125)]
             + [marked(f, ts=140) for f in fb[1:]])          # at 140, a (from 100) is over 30 s old
    r = reassemble(items, expect_out1=True)
    rec = r.element("rec")
    assert [IP(x.data).src for x in rec.on(1)] == ["10.0.0.1"]
    assert len(rec.on(1)[0].data) == 20 + 3 * 80            # what had arrived, holes unfilled
    [done] = rec.on(0)
    check_whole(done, b)


def test_himem_gives_up_the_oldest(fragments_of):
    items = []
    for i in range(20):
        d = datagram(1000, ident=100 + i, src=f"10.1.0.{i + 1}")
        items.append(marked(fragments_of(d, 576)[0], ts=100 + i))
    r = reassemble(items, config="HIMEM 4000", expect_out1=True)
    rec = r.element("rec")
    given_up = [int(IP(x.data).src.split(".")[3]) - 1 for x in rec.on(1)]
    # old ones go first (at least 5 seconds older than the newest), in bucket order
    assert given_up and max(given_up) < 15
    assert int(r.element("r").mem_used) <= 4000
    assert r.read("r.dump").count("(0,552)") == 20 - len(given_up)
    assert f"failed reassemblies: {len(given_up)}" in r.read("r.dump")


def test_dump_lists_held_ranges():
    data = datagram(400 - 28, ident=0x0102)
    r = reassemble([marked(raw_fragment(data, 0, 80, True)), marked(raw_fragment(data, 160, 240, True))])
    dump = r.read("r.dump")
    assert "frags seen total:    2" in dump
    assert " (10.0.0.1, 9, 10.0.0.2, 10) 258 (0,80) (160,240)\n" in dump


def test_max_mtu_anno(fragments_of):
    data = datagram(1000)
    frags = fragments_of(data, 300) + []
    r = reassemble([marked(f) for f in reversed(frags)], config="MAX_MTU_ANNO 24")
    [x] = r.element("rec").log
    assert int.from_bytes(x.anno[24:26], "little") == max(len(f) for f in frags)


@pytest.mark.parametrize("burst", [1, 32])
def test_fragmenter_into_reassembler_pipeline(burst):
    rng = random.Random(burst)
    originals = [datagram(rng.randint(0, 3000), ident=i, seed=i) for i in range(60)]
    key = feed(marked(d) for d in originals)
    r = run_router(f"HarnessFeed({key}) -> Queue(1000) -> Unqueue(BURST {burst}) -> IPFragmenter(300)"
                   f" -> Queue(10000) -> Unqueue(BURST {burst}) -> CheckIPHeader -> r :: IPReassembler -> rec :: HarnessRecord")
    log = r.element("rec").log
    assert len(log) == len(originals)
    for x, d in zip(log, originals):
        check_whole(x, d)
    assert r.element("r").check() == [] and r.element("r").mem_used == 0
