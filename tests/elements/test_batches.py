"""Batched and per-packet paths give the same results (FromDump BURST 32 vs BURST 1)."""
import pytest
from scapy.all import ARP, ICMP, IP, UDP, Ether, rdpcap, wrpcap
from support import run_config

ME = "00:01:02:03:04:05"


def frames():
    out = []
    for i in range(40):
        k = i % 5
        if k == 0:
            out.append(Ether(dst=ME, src="00:0a:0a:0a:0a:0a") / IP(src="1.0.0.1", dst="2.0.0.2") / ICMP(type=8, seq=i) / b"p")
        elif k == 1:
            out.append(Ether(dst="ff:ff:ff:ff:ff:ff", src="00:0a:0a:0a:0a:0a")
                       / ARP(op=1, psrc="10.0.0.9", pdst="10.0.0.1" if i % 2 else "10.0.0.7", hwsrc="00:0a:0a:0a:0a:0a"))
        elif k == 2:
            out.append(Ether(dst="00:09:09:09:09:09", src=ME) / IP(src="1.0.0.1", dst="2.0.0.2") / UDP() / bytes([i]))
        elif k == 3:
            out.append(Ether(dst="01:00:5e:00:00:01", src="00:0b:0b:0b:0b:0b") / IP(src="1.0.0.1", dst="224.0.0.1") / UDP())
        else:
            out.append(Ether(dst=ME, src="00:0c:0c:0c:0c:0c") / IP(src="1.0.0.3", dst="2.0.0.2") / ICMP(type=0, seq=i))
    return out


CHAINS = {
    "HostEtherFilter": f"e :: HostEtherFilter({ME}, true)",
    "ARPResponder": "e :: ARPResponder(10.0.0.1 00:0d:0d:0d:0d:0d)",
    "ICMPPingResponder": "Strip(14) -> CheckIPHeader(VERBOSE false) -> e :: ICMPPingResponder",
    "DropBroadcasts": f"HostEtherFilter({ME}, DROP_OTHER false) -> e :: DropBroadcasts",
    "RandomSample": "e :: RandomSample(0.5)",
}


def outputs(tmp_path, chain, burst):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), frames())
    o0, o1 = tmp_path / f"o0-{burst}.pcap", tmp_path / f"o1-{burst}.pcap"
    out = run_config(
        f"RandomSeed(5); FromDump({src}, STOP true, BURST {burst}) -> {chain};"
        f" e[0] -> ToDump({o0}); e[1] -> ToDump({o1});", "--simtime")
    assert out.returncode == 0, out.stderr
    return [bytes(p) for p in rdpcap(str(o0))], [bytes(p) for p in rdpcap(str(o1))]


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_batch_equals_per_packet(tmp_path, name):
    batched = outputs(tmp_path, CHAINS[name], 32)
    single = outputs(tmp_path, CHAINS[name], 1)
    assert batched == single
    assert batched[0] and batched[1]            # both outputs saw traffic
