"""Helpers for the rewriters' tests: packets, checksums, a run through a rewriter.

Packets go in through a HarnessFeed (``make_feed``): each item is bytes (an
IP packet, network header at offset 0) or a dict with ``data``, ``at``
(seconds after the router starts), ``port`` (which output of the feed), or
``at`` and ``call``, a function called with the router at that time (to
read handlers while the router runs). A HarnessRecord records what leaves.

Routers run in simulated time (``run_router``), so a feed item at 600 s
arrives 600 simulated seconds after the start, at once.
"""
from harness import feed, run_router
from scapy.all import ICMP, IP, TCP, UDP, raw


def make_feed(packets):
    """A HarnessFeed KEY for packets as the rewriters take them: IP packets
    (network header at offset 0), each at its time (0 if not given)."""
    return feed({"at": 0.0, "net": 0, **(it if isinstance(it, dict) else {"data": it})} for it in packets)


def udp(src, sport, dst, dport, payload=b"hello", **ip):
    return raw(IP(src=src, dst=dst, **ip) / UDP(sport=sport, dport=dport) / payload)


def tcp(src, sport, dst, dport, flags="A", payload=b"", seq=1000, ack=0, **ip):
    return raw(IP(src=src, dst=dst, **ip) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack) / payload)


def icmp(src, dst, type=8, code=0, id=0, seq=0, payload=b"", **ip):
    return raw(IP(src=src, dst=dst, **ip) / ICMP(type=type, code=code, id=id, seq=seq) / payload)


def snap(log, *handlers):
    """A feed item's ``call``: append the values of handlers ("e.h") to log."""
    return lambda router: log.append(tuple(router.read(h) for h in handlers))


def checksums_ok(data):
    """True if the IP and transport checksums of the packet bytes are right (scapy recomputes them)."""
    pkt = IP(data)
    fixed = pkt.copy()
    del fixed.chksum
    layer = None
    for cls in (TCP, UDP, ICMP):
        if cls in fixed:
            layer = cls
            break
    if layer is not None and not (layer is UDP and pkt[UDP].chksum == 0):
        del fixed[layer].chksum
    again = IP(raw(fixed))
    if again.chksum != pkt.chksum:
        return False
    if layer is not None and not (layer is UDP and pkt[UDP].chksum == 0):
        return again[layer].chksum == pkt[layer].chksum
    return True


def wire(element_decl, ninputs, noutputs, key, extra=""):
    """Config text: the feed's outputs 0..ninputs-1 into rw's inputs, rw's outputs into a HarnessRecord."""
    lines = [f"f :: HarnessFeed({key});", f"rw :: {element_decl};", "rec :: HarnessRecord;", extra]
    lines += [f"f[{i}] -> [{i}]rw;" for i in range(ninputs)]
    lines += [f"rw[{i}] -> [{i}]rec;" for i in range(noutputs)]
    return "\n".join(lines)


def rewrite(element_decl, ninputs, noutputs, packets, seconds=10.0, extra=""):
    """Run packets through a rewriter in simulated time; returns (router, records)."""
    r = run_router(wire(element_decl, ninputs, noutputs, make_feed(packets), extra), seconds)
    return r, r.find("rec").log


def write_flows_pcap(path, nflows, passes=1, first_src=0x0A000000, first_dst=0xC6120000, dst_step=1):
    """A pcap (Ethernet, 64-byte frames) of nflows distinct UDP flows, each one
    packet per pass: flow i is (first_src + i, 2000 + i % 50000) -> (first_dst + i * dst_step, 53)
    (dst_step 0: all to one destination). Built with numpy so a million flows take a moment."""
    import numpy as np

    rec = np.zeros((nflows, 16 + 64), dtype=np.uint8)
    i = np.arange(nflows, dtype=np.uint64)

    def put_be(col, values, nbytes):
        v = values.astype(np.uint64)
        for k in range(nbytes):
            rec[:, col + k] = ((v >> np.uint64(8 * (nbytes - 1 - k))) & np.uint64(0xFF)).astype(np.uint8)

    def put_le(col, value, nbytes):
        for k in range(nbytes):
            rec[:, col + k] = (value >> (8 * k)) & 0xFF

    put_le(8, 64, 4)                        # caplen
    put_le(12, 64, 4)                       # len
    eth = 16
    rec[:, eth:eth + 12] = np.frombuffer(bytes.fromhex("001122334455" "0066778899aa"), dtype=np.uint8)
    rec[:, eth + 12] = 0x08
    ipo = eth + 14
    src = np.uint64(first_src) + i
    dst = np.uint64(first_dst) + i * np.uint64(dst_step)
    rec[:, ipo] = 0x45
    rec[:, ipo + 3] = 50                    # total length 50
    rec[:, ipo + 8] = 64                    # ttl
    rec[:, ipo + 9] = 17
    put_be(ipo + 12, src, 4)
    put_be(ipo + 16, dst, 4)
    # header checksum: the constant words plus the addresses' halfwords
    s = (np.uint64(0x4500 + 50 + 0x4011) + (src >> np.uint64(16)) + (src & np.uint64(0xFFFF))
         + (dst >> np.uint64(16)) + (dst & np.uint64(0xFFFF)))
    s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    put_be(ipo + 10, (~s) & np.uint64(0xFFFF), 2)
    udpo = ipo + 20
    put_be(udpo, np.uint64(2000) + i % np.uint64(50000), 2)
    put_be(udpo + 2, np.full(nflows, 53, dtype=np.uint64), 2)
    rec[:, udpo + 5] = 30                   # UDP length; checksum 0 (none)
    header = (0xA1B2C3D4).to_bytes(4, "little") + (2).to_bytes(2, "little") + (4).to_bytes(2, "little") \
        + bytes(8) + (65535).to_bytes(4, "little") + (1).to_bytes(4, "little")
    body = rec.tobytes()
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(passes):
            f.write(body)
