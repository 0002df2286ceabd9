"""LinearIPLookup: general masks, Click's slot order, the lookup cache."""
from harness import feed, run_router
from support import build_router


def linear(routes="", noutputs=3):
    outs = "".join(f"rt[{i}] -> Discard;\n" for i in range(noutputs))
    return build_router(f"Idle -> rt :: LinearIPLookup({routes});\n{outs}")


def test_non_prefix_masks_match_as_clicks():
    r = linear("1.2.3.4/255.0.255.0 0, 1.0.0.0/8 1, 0.0.0.0/0.0.0.255 2")
    assert r.read("rt.table").splitlines() == [
        "1.0.3.0/255.0.255.0\t-\t\t0", "1.0.0.0/8\t\t-\t\t1", "0.0.0.0/0.0.0.255\t-\t\t2"]
    assert r.read("rt.lookup", param="1.9.3.9") == "0"   # 255.0.255.0 has more bits than /8
    assert r.read("rt.lookup", param="1.9.4.9") == "1"
    assert r.read("rt.lookup", param="7.7.7.0") == "2"
    assert r.read("rt.lookup", param="7.7.7.1") == "-1"


def test_slots_are_reused_in_order():
    r = linear("1.0.0.0/8 0, 2.0.0.0/8 1, 3.0.0.0/8 2")
    r.write("rt.set", "2.0.0.0/8 9.9.9.9 1")   # in place
    r.write("rt.remove", "1.0.0.0/8")
    r.write("rt.add", "4.0.0.0/8 0")           # takes the first free slot
    assert r.read("rt.table").splitlines() == [
        "4.0.0.0/8\t\t-\t\t0", "2.0.0.0/8\t\t9.9.9.9\t\t1", "3.0.0.0/8\t\t-\t\t2"]


def test_zero_route_moves_forward_when_an_earlier_slot_frees():
    r = linear("1.0.0.0/8 0, 0.0.0.0/32 1, 2.0.0.0/8 2")
    r.write("rt.remove", "1.0.0.0/8 - 0")
    assert r.read("rt.table").splitlines() == ["0.0.0.0/32\t\t-\t\t1", "2.0.0.0/8\t\t-\t\t2"]
    assert r.read("rt.lookup", param="0.0.0.0") == "1"
    r.write("rt.remove", "0.0.0.0/32")
    assert r.read("rt.lookup", param="0.0.0.0") == "-1"


def test_cache_follows_table_changes():
    key = feed([{"data": bytes(20), "dst": "10.1.1.1"}] * 3)
    r = run_router(f"""HarnessFeed({key})
        -> rt :: LinearIPLookup(10.0.0.0/8 0, 10.1.0.0/16 5.5.5.5 1);
        rec :: HarnessRecord; rt[0] -> [0] rec; rt[1] -> [1] rec;""")
    assert [(x.port, x.dst_ip) for x in r.element("rec").log] == [(1, "5.5.5.5")] * 3
    r.write("rt.remove", "10.1.0.0/16")
    r.element("rt").push_packet(0, _packet("10.1.1.1"))
    r.write("rt.set", "10.0.0.0/8 6.6.6.6 1")
    r.element("rt").push_packet(0, _packet("10.1.1.1"))
    assert [(x.port, x.dst_ip) for x in r.element("rec").log[3:]] == [(0, "10.1.1.1"), (1, "6.6.6.6")]


def _packet(dst):
    from clickpy.runtime.packet import PacketObject

    p = PacketObject.make(bytes(20))
    p.dst_ip = dst
    return p
