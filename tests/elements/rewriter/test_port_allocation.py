"""Patterns with a range: exhaustion, reuse of freed values, bounded work per new flow.

The allocator (flow_table.pyx, "group indexes") must choose what Click's
search chooses: a value no entry of the rewriter's table uses toward that
destination, the packet's own port first (SAME), else the first free one
from the next in sequence ('#') or from a random start ('?'), and drop a
flow only when the whole range is in use. The model test checks each new
flow's value against the table itself, read value by value.
"""
import random

import pytest
from harness import run_router
from rewriter_helpers import make_feed, rewrite, udp, write_flows_pcap
from scapy.all import IP, UDP

from clickpy.elements.rewriter import flow_table
from clickpy.runtime.args import parse_ip, unparse_ip
from clickpy.runtime.packet import PacketObject
from support import build_router

NAT = "203.0.113.1"
GROUP_SMALL = 32        # flow_table.pxd: a group this large gets a value set


def nat_decl(ports, flag="", extra=""):
    return f"IPRewriter(pattern {NAT} {ports}{flag} - - 0 1, drop{extra})"


# --- exhaustion and reuse --------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["", "#", "?"])
@pytest.mark.parametrize("nports", [10, 100])
def test_full_range_drops_and_counts_then_reuses_the_freed_port(nports, flag):
    lo = 5000
    log = []
    pkts = [udp(f"10.0.{i // 200}.{i % 200 + 1}", 4444, "1.2.3.4", 53) for i in range(nports)]
    # one flow too many: dropped and counted
    pkts.append({"at": 1, "data": udp("10.9.9.9", 4444, "1.2.3.4", 53)})
    pkts.append({"at": 2, "call": lambda r: log.append((r.read("rw.mapping_failures"), r.read("rw.nmappings")))})
    # every flow but the first is refreshed, so the first alone expires (at 10 s)
    pkts += [{"at": 5, "data": d} for d in pkts[1:nports]]
    pkts.append({"at": 12, "call": lambda r: log.append(r.read("rw.nmappings"))})
    pkts.append({"at": 13, "data": udp("10.9.9.10", 4444, "1.2.3.4", 53)})
    pkts.append({"at": 14, "data": udp("10.9.9.11", 4444, "1.2.3.4", 53)})
    pkts.append({"at": 14.5, "call": lambda r: log.append((r.read("rw.mapping_failures"), r.read("rw.nmappings")))})
    kw = ", UDP_TIMEOUT 10, UDP_GUARANTEE 0, REAP_INTERVAL 1"
    r, out = rewrite(nat_decl(f"{lo}-{lo + nports - 1}", flag, kw), 2, 2, pkts, seconds=15)
    first = [IP(o.data)[UDP].sport for o in out[:nports]]
    assert sorted(first) == list(range(lo, lo + nports))
    # the new flow gets exactly the port the expired one held; the next one finds none
    reused = [o for o in out if o.arrived - out[0].arrived >= 13e9]
    assert [IP(o.data)[UDP].sport for o in reused] == [first[0]]
    assert IP(reused[0].data).src == NAT
    assert log == [("1", str(nports)), str(nports - 1), ("2", str(nports))]


def test_clear_frees_every_port():
    pkts = [udp(f"10.0.0.{i}", 4444, "1.2.3.4", 53) for i in range(1, 41)]
    pkts.append({"at": 1, "call": lambda r: r.write("rw.clear", "")})
    pkts += [{"at": 2, "data": udp(f"10.0.1.{i}", 4444, "1.2.3.4", 53)} for i in range(1, 41)]
    r, out = rewrite(nat_decl("6000-6039", "#"), 2, 2, pkts)
    assert [IP(o.data)[UDP].sport for o in out] == list(range(6000, 6040)) * 2
    assert r.read("rw.mapping_failures") == "0"


def test_each_table_sharing_a_pattern_has_its_own_ports():
    # a named sequential pattern continues from one rewriter to the next, but
    # a port is in use only in the table of the rewriter that mapped it
    items = [{"data": udp(f"10.0.0.{i}", 1, "1.2.3.4", 53), "port": 0} for i in range(1, 7)]
    items += [{"at": 1, "data": udp(f"10.0.1.{i}", 1, "1.2.3.4", 53), "port": 1} for i in range(1, 7)]
    items += [{"at": 2, "data": udp(f"10.0.2.{i}", 1, "1.2.3.4", 53), "port": 0} for i in range(1, 6)]
    cfg = (f"IPRewriterPatterns(p {NAT} 5000-5009# - -);"
           f"f :: HarnessFeed({make_feed(items)}); a :: IPRewriter(pattern p 0 1); b :: IPRewriter(pattern p 0 1);"
           "rec :: HarnessRecord; f[0] -> a; f[1] -> b; a[0] -> [0]rec; b[0] -> [1]rec;"
           "a[1] -> Discard; b[1] -> Discard;")
    r = run_router(cfg, 5)
    ports = [(o.port, IP(o.data)[UDP].sport) for o in r.find("rec").log]
    assert ports == ([(0, p) for p in range(5000, 5006)] + [(1, p) for p in (5006, 5007, 5008, 5009, 5000, 5001)]
                     + [(0, p) for p in (5006, 5007, 5008, 5009)])
    assert r.read("a.mapping_failures") == "1" and r.read("b.mapping_failures") == "0"


def test_address_range_exhaustion_and_reuse():
    lo, n = 1, 40
    log = []
    pkts = [udp(f"10.0.{i // 200}.{i % 200 + 1}", 1, "8.8.8.8", 53) for i in range(n)]
    pkts.append({"at": 1, "data": udp("10.9.9.9", 1, "8.8.8.8", 53)})
    pkts += [{"at": 5, "data": d} for d in pkts[1:n]]
    pkts.append({"at": 12, "call": lambda r: log.append(r.read("rw.nmappings"))})
    pkts.append({"at": 13, "data": udp("10.9.9.10", 1, "8.8.8.8", 53)})
    r, out = rewrite(f"IPAddrRewriter(pattern 198.51.100.{lo}-198.51.100.{lo + n - 1} - 0 1, "
                     "TIMEOUT 10, GUARANTEE 0, REAP_INTERVAL 1)", 1, 2, pkts, seconds=20)
    first = [IP(o.data).src for o in out[:n]]
    assert sorted(first, key=lambda a: int(a.split(".")[3])) == [f"198.51.100.{lo + i}" for i in range(n)]
    assert log == [str(n - 1)]
    assert out[-1].arrived - out[0].arrived >= 13e9 and IP(out[-1].data).src == first[0]
    assert r.read("rw.mapping_failures") == "1"


# --- a model: every new flow's value against the table, value by value ------------------------------

def push(router, data, port):
    p = PacketObject.make(bytes(data))
    p.set_network_header(0, (p.data[0] & 0x0F) * 4)
    router.find("f").output_push_packet(port, p)


def ip4(v):
    return unparse_ip(v)


def lookup(rw, saddr, sport, daddr, dport, owner=0):
    """rw.lookup with dotted addresses in and out."""
    got = rw.lookup(parse_ip(saddr), sport, parse_ip(daddr), dport, owner)
    if got is None:
        return None
    (s, sp, d, dp), out = got
    return (unparse_ip(s), sp, unparse_ip(d), dp), out


class NaptModel:
    """IPRewriter, source port range toward two destinations; foreign entries
    come from 'keep' on input 1 (a packet D:53 -> NAT:v holds port v toward D)."""

    def __init__(self, lo, hi, flag):
        self.lo, self.hi, self.flag = lo, hi, flag
        self.decl = (f"IPRewriter(pattern {NAT} {lo}-{hi}{flag} - - 0 1, keep 1 0, "
                     "UDP_TIMEOUT 4, UDP_GUARANTEE 0, REAP_INTERVAL 1)")
        self.dsts = ["1.2.3.4", "5.6.7.8"]

    def new_flow(self, rng, rw):
        while True:
            src = ip4(0x0A000000 | rng.randrange(1, 1 << 20))
            sport = rng.choice([rng.randrange(self.lo, self.hi + 1), rng.randrange(1024, 65536)])
            dst = rng.choice(self.dsts)
            if lookup(rw, src, sport, dst, 53, 1) is None:
                return (src, sport, dst), udp(src, sport, dst, 53)

    def foreign(self, rng):
        v = rng.randrange(self.lo, self.hi + 1)
        return udp(rng.choice(self.dsts), 53, NAT, v)

    def used(self, rw, flow):
        dst = flow[2]
        return {v for v in range(self.lo, self.hi + 1) if lookup(rw, dst, 53, NAT, v, 1) is not None}

    def chosen(self, rw, flow):
        got = lookup(rw, flow[0], flow[1], flow[2], 53, 1)
        if got is None:
            return None
        (nsrc, nsport, ndst, ndport), out = got
        assert (nsrc, ndst, ndport, out) == (NAT, flow[2], 53, 0)
        return nsport

    def own(self, flow):
        """The value SAME prefers, if the pattern prefers one."""
        return flow[1] if self.flag == "" and self.lo <= flow[1] <= self.hi else None

    def packet(self, flow):
        return udp(flow[0], flow[1], flow[2], 53)


class AddrModel:
    """IPAddrRewriter, a source address range; foreign entries come from 'keep'
    on input 1 (a host whose own address lies in the range holds it)."""

    def __init__(self, lo, hi, flag):
        self.lo, self.hi, self.flag = lo, hi, flag
        self.base = 0xC6336400          # 198.51.100.0
        self.decl = (f"IPAddrRewriter(pattern {ip4(self.base + lo)}-{ip4(self.base + hi)}{flag} - 0 1, "
                     "keep 1 0, TIMEOUT 4, GUARANTEE 0, REAP_INTERVAL 1)")

    def new_flow(self, rng, rw):
        while True:
            src = ip4(0x0A000000 | rng.randrange(1, 1 << 20))
            if lookup(rw, src, 0, "0.0.0.0", 0) is None:
                return (src,), udp(src, 1, "8.8.8.8", 53)

    def foreign(self, rng):
        return udp(ip4(self.base + rng.randrange(self.lo, self.hi + 1)), 1, "8.8.8.8", 53)

    def used(self, rw, flow):
        return {v for v in range(self.lo, self.hi + 1)
                if lookup(rw, "0.0.0.0", 0, ip4(self.base + v), 0) is not None}

    def chosen(self, rw, flow):
        got = lookup(rw, flow[0], 0, "0.0.0.0", 0)
        if got is None:
            return None
        (nsrc, _, _, _), out = got
        assert out == 0
        return int(nsrc.split(".")[3]) + (int(nsrc.split(".")[2]) - 100) * 256

    def own(self, flow):
        return None

    def packet(self, flow):
        return udp(flow[0], 1, "8.8.8.8", 53)


def probe_count():
    return flow_table.allocation_stats()["probes"]


def run_model(model, seed, bursts=6):
    """Random new flows, refreshes, foreign entries and expiries; every new flow
    checked against Click's search over the table as it stands."""
    rng = random.Random(seed)
    flows = []                  # pattern flows made (pruned of the expired ones now and then)
    stats = {"new": 0, "dropped": 0, "own": 0, "max_probes": 0}
    sets = flow_table.allocation_stats()
    width = model.hi - model.lo + 1
    nxt = [0]                   # where a sequential search starts (an offset): after the last value chosen
    # The random starts the rewriter will draw, one per search ('#' draws none):
    # the same seed twice, so the model knows them in advance.
    flow_table.srandom(seed)
    draws = iter([flow_table.random_range(0, width - 1) for _ in range(5000)])
    flow_table.srandom(seed)

    def step(router):
        rw = router.find("rw")
        r = rng.random()
        if r < 0.12:
            push(router, model.foreign(rng), 1)
            return
        if r < 0.25:
            flows[:] = [f for f in flows if model.chosen(rw, f) is not None]
            if flows:
                push(router, model.packet(rng.choice(flows)), 0)     # a refresh
                return
        if r < 0.27:
            return
        flow, data = model.new_flow(rng, rw)
        used = model.used(rw, flow)
        # Click's choice: the packet's own value if SAME and free; else the
        # first free value from the start, wrapping around; else a drop
        own = model.own(flow)
        if own is not None and own not in used:
            expected = own
            stats["own"] += 1
        else:
            start = (0 if nxt[0] > width - 1 else nxt[0]) if model.flag == "#" else next(draws)
            order = [model.lo + (start + i) % width for i in range(width)]
            expected = next((v for v in order if v not in used), None)
        failures = int(router.read("rw.mapping_failures"))
        probes = probe_count()
        push(router, data, 0)
        probes = probe_count() - probes
        got = model.chosen(rw, flow)
        assert got == expected, (got, expected, sorted(used))
        stats["new"] += 1
        stats["max_probes"] = max(stats["max_probes"], probes)
        # bounded work, however full the range
        assert probes <= 2 * GROUP_SMALL + 4, (probes, len(used))
        if got is None:
            assert int(router.read("rw.mapping_failures")) == failures + 1
            stats["dropped"] += 1
            return
        nxt[0] = got - model.lo + 1
        flows.append(flow)

    # Bursts of steps, fast (the range fills: drops), slow (about half of it
    # in use) and between, flows living 4 s; between bursts a pause, long
    # enough for every flow to expire, or not.
    items = []
    t = 1.0
    for b in range(bursts):
        for _ in range(200):
            items.append({"at": round(t, 3), "call": step})
            t += (0.02, 0.1, 0.05)[b % 3]
        t += (2, 6)[b % 2]
    cfg = (f"f :: HarnessFeed({make_feed(items)}); rw :: {model.decl}; rec :: HarnessRecord;"
           "f[0] -> [0]rw; f[1] -> [1]rw; rw[0] -> [0]rec; rw[1] -> [1]rec;")
    run_router(cfg, t + 1)
    after = flow_table.allocation_stats()
    for k in ("sets_made", "sets_dropped", "set_answers"):
        stats[k] = after[k] - sets[k]
    return stats


@pytest.mark.parametrize("flag", ["", "#", "?"])
@pytest.mark.parametrize("width", [10, 48])
def test_model_napt(width, flag):
    stats = run_model(NaptModel(5000, 5000 + width - 1, flag), seed=width * 7 + len(flag))
    # the runs reach every state: mapped, exhausted, the own port kept (SAME),
    # and beyond GROUP_SMALL ports, groups with value sets that come and go
    assert stats["new"] > 500 and stats["dropped"] > 50, stats
    if flag == "":
        assert stats["own"] > 10, stats
    if width > GROUP_SMALL:
        # (how many depends a little on the buckets groups fall in: the group
        # hash has a key drawn at start-up)
        assert stats["sets_made"] >= 2 and stats["sets_dropped"] >= 1 and stats["set_answers"] > 10, stats


@pytest.mark.parametrize("flag", ["", "#", "?"])
def test_model_address_range(flag):
    stats = run_model(AddrModel(1, 45, flag), seed=3 + len(flag))
    assert stats["new"] > 500 and stats["dropped"] > 50, stats
    assert stats["sets_made"] >= 2 and stats["sets_dropped"] >= 1, stats


# --- large scale: the work per new flow does not grow with the ports in use -------------------------

def test_exhausted_destination_costs_a_few_probes_per_flow(tmp_path):
    n = 130_000                 # 64,512 mapped, the rest dropped
    pcap = tmp_path / "one-destination.pcap"
    write_flows_pcap(pcap, n, first_dst=0x01020304, dst_step=0)
    r = build_router(f"""
        fd :: FromDump({pcap}, STOP true, MMAP true) -> Strip(14) -> CheckIPHeader
          -> rw :: IPRewriter(pattern {NAT} 1024-65535 - - 0 1);
        rw[0] -> c :: Counter -> Discard;
        rw[1] -> Discard;
    """)
    probes = probe_count()
    r.run()
    probes = probe_count() - probes
    assert r.read("rw.nmappings") == "64512"
    assert r.read("rw.mapping_failures") == str(n - 64512)
    assert r.read("c.count") == "64512"
    # Click's search looks at all 64,512 ports for each dropped flow (4 billion in all)
    assert probes <= 4 * n, probes
    rw = r.find("rw")
    src, sport = 0x0A000000 + 4242, 2000 + 4242
    assert lookup(rw, ip4(src), sport, "1.2.3.4", 53, 1)[0] == (NAT, sport, "1.2.3.4", 53)
    # cleared, every port is free again: the same flows once more
    r.write("rw.clear", "")
    r.write("fd.filepos", "24")
    r.write("fd.active", "true")
    r.scheduler.set_runcount(1)         # (FromDump's STOP left it at 0)
    r.run()
    assert r.read("rw.nmappings") == "64512"
    assert r.read("rw.mapping_failures") == str(2 * (n - 64512))
    assert r.read("c.count") == str(2 * 64512)


def test_exhausted_address_range_costs_a_few_probes_per_flow(tmp_path):
    n = 70_000                  # a /16 gives 65,534 addresses
    pcap = tmp_path / "sources.pcap"
    write_flows_pcap(pcap, n)
    r = build_router(f"""
        FromDump({pcap}, STOP true, MMAP true) -> Strip(14) -> CheckIPHeader
          -> rw :: IPAddrRewriter(pattern 198.51.0.0/16 - 0 1);
        rw[0] -> c :: Counter -> Discard;
        rw[1] -> Discard;
    """)
    probes = probe_count()
    r.run()
    probes = probe_count() - probes
    assert r.read("rw.nmappings") == "65534"
    assert r.read("rw.mapping_failures") == str(n - 65534)
    assert probes <= 4 * n, probes


def test_each_table_hashes_flow_ids_with_its_own_key():
    """Flow IDs chosen to share a bucket in one table are spread in the next:
    whoever picks flow IDs cannot precompute a collision chain."""
    from clickpy.elements.rewriter.flow_table import bucket_in_new_table

    keys = [(0x0A000001, port, 0x01020304, 53) for port in range(1024, 1024 + 8192)]
    first = bucket_in_new_table(keys, nbits=8)
    target = max(set(first), key=first.count)
    colliding = [k for k, b in zip(keys, first) if b == target]
    assert len(colliding) >= 32  # one bucket of 256 holds these in the first table...
    spread = bucket_in_new_table(colliding, nbits=8)
    assert max(spread.count(b) for b in spread) <= 8  # ...and no bucket of a new one
