"""AggregateIPFlows."""
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, fragment, wrpcap

from clickpy.runtime.packet import PacketObject
from support import build_router, run_config


def flows_pcap(path):
    pkts = [
        Ether() / IP(src="1.0.0.1", dst="2.0.0.2") / TCP(sport=1000, dport=80, flags="S"),
        Ether() / IP(src="2.0.0.2", dst="1.0.0.1") / TCP(sport=80, dport=1000, flags="SA"),
        Ether() / IP(src="1.0.0.1", dst="2.0.0.2") / UDP(sport=53, dport=53),
        Ether() / IP(src="1.0.0.1", dst="2.0.0.2") / TCP(sport=1001, dport=80, flags="S"),
        Ether() / IP(src="2.0.0.2", dst="1.0.0.1") / ICMP(type=3, code=3) / IP(src="1.0.0.1", dst="2.0.0.2") / UDP(sport=53, dport=53),
        Ether() / IP(src="1.0.0.1", dst="2.0.0.2") / TCP(sport=1000, dport=80, flags="F"),
        Ether() / IP(src="2.0.0.2", dst="1.0.0.1") / TCP(sport=80, dport=1000, flags="F"),
        Ether() / IP(src="1.0.0.1", dst="2.0.0.2") / TCP(sport=1000, dport=80, flags="S"),
        Ether() / IP(src="5.0.0.5", dst="6.0.0.6", proto=47) / Raw(b"gre"),
    ]
    for i, p in enumerate(pkts):
        p.time = 1000 + i
    wrpcap(str(path), pkts)


def test_flows_and_directions(tmp_path):
    flows_pcap(tmp_path / "f.pcap")
    r = run_config(f"FromDump({tmp_path}/f.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows(ICMP true) "
                   f"-> ToIPSummaryDump(-, FIELDS ip_src sport aggregate paint, HEADER false); "
                   f"af[1] -> ToIPSummaryDump(-, FIELDS ip_src ip_proto, HEADER false)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "1.0.0.1 1000 1 0",
        "2.0.0.2 80 1 1",
        "1.0.0.1 53 2 0",
        "1.0.0.1 1001 3 0",
        "2.0.0.2 - 2 2",        # ICMP error about flow 2: paint 2 + direction
        "1.0.0.1 1000 1 0",
        "2.0.0.2 80 1 1",
        "1.0.0.1 1000 4 0",     # a SYN after both FINs starts a new flow
        "5.0.0.5 47",           # not TCP or UDP: output 1
    ]


def test_icmp_errors_without_icmp_go_to_output_1(tmp_path):
    flows_pcap(tmp_path / "f.pcap")
    r = run_config(f"FromDump({tmp_path}/f.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows "
                   f"-> c0 :: Counter -> Discard; af[1] -> c1 :: Counter -> Discard", "-h", "c0.count", "-h", "c1.count")
    assert r.stdout.split() == ["c0.count:", "7", "c1.count:", "2"]


def test_udp_timeout_starts_a_new_flow(tmp_path):
    pkts = [Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) for _ in range(3)]
    for p, t in zip(pkts, (100, 130, 300)):
        p.time = t
    wrpcap(str(tmp_path / "u.pcap"), pkts)
    r = run_config(f"FromDump({tmp_path}/u.pcap, STOP true, FORCE_IP true) -> AggregateIPFlows(UDP_TIMEOUT 60) "
                   f"-> ToIPSummaryDump(-, FIELDS aggregate, HEADER false)")
    assert r.stdout.split() == ["1", "1", "2"]


def test_fragments_are_held_until_clear(tmp_path):
    frags = fragment(Ether() / IP(src="3.0.0.3", dst="4.0.0.4", id=7) / UDP(sport=5, dport=6) / Raw(b"x" * 3000),
                     fragsize=1000)
    for i, p in enumerate(frags):
        p.time = 50 + i
    wrpcap(str(tmp_path / "fr.pcap"), frags)
    r = build_router(f"FromDump({tmp_path}/fr.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows "
                     f"-> c :: Counter -> Discard")
    r.run()
    assert r.read("c.count") == "0"        # held: more fragments may follow
    r.write("af.clear", "")
    assert r.read("c.count") == str(len(frags))
    r.cleanup()


def test_fragments_get_the_flow_of_their_first_fragment(tmp_path):
    frags = fragment(Ether() / IP(src="3.0.0.3", dst="4.0.0.4", id=7) / UDP(sport=5, dport=6) / Raw(b"x" * 3000),
                     fragsize=1000)
    for i, p in enumerate(frags):
        p.time = 50 + i
    later = Ether() / IP(src="7.0.0.7", dst="8.0.0.8") / UDP(sport=1, dport=1)
    later.time = 200           # past FRAGMENT_TIMEOUT: the fragments are let go
    wrpcap(str(tmp_path / "fr.pcap"), frags + [later])
    r = run_config(f"FromDump({tmp_path}/fr.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows(REAP 10) "
                   f"-> ToIPSummaryDump(-, FIELDS ip_src aggregate ip_frag, HEADER false)")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "7.0.0.7 2 ."
    assert lines[:-1] == ["3.0.0.3 1 F"] + ["3.0.0.3 1 f"] * (len(frags) - 1)


def test_fragments_false_sends_later_fragments_to_output_1(tmp_path):
    frags = fragment(Ether() / IP(src="3.0.0.3", dst="4.0.0.4", id=7) / UDP(sport=5, dport=6) / Raw(b"x" * 3000),
                     fragsize=1000)
    wrpcap(str(tmp_path / "fr.pcap"), frags)
    r = run_config(f"FromDump({tmp_path}/fr.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows(FRAGMENTS false) "
                   f"-> c0 :: Counter -> Discard; af[1] -> c1 :: Counter -> Discard", "-h", "c0.count", "-h", "c1.count")
    assert r.stdout.split() == ["c0.count:", "1", "c1.count:", str(len(frags) - 1)]


def test_traceinfo(tmp_path):
    flows_pcap(tmp_path / "f.pcap")
    r = run_config(f"fd :: FromDump({tmp_path}/f.pcap, STOP true, FORCE_IP true) "
                   f"-> AggregateIPFlows(TRACEINFO {tmp_path}/t.xml, SOURCE fd) -> Discard")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "t.xml").read_text()
    assert text.startswith("<?xml version='1.0' standalone='yes'?>\n<trace file=")
    assert text.rstrip().endswith("</trace>")
    assert text.count("<flow ") == 4
    assert "<flow aggregate='1' src='1.0.0.1' sport='1000' dst='2.0.0.2' dport='80' begin='1000.000000'" in text


def test_malformed_packets_do_not_crash():
    r = build_router("Idle -> af :: AggregateIPFlows(ICMP true) -> c0 :: Counter -> Discard; af[1] -> c1 :: Counter -> Discard")
    af = r.element("af")
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=1, dport=2))
    icmp = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=3) / b"\x45")
    cases = [(b"", None), (good[:10], 20), (good[:22], 20), (good, 20), (icmp, 20), (good, None)]
    for data, hl in cases:
        p = PacketObject.make(data)
        p.timestamp = 10**9
        if hl is not None:
            p.set_network_header(0, hl)
        af.push_packet(0, p)
    assert (r.read("c0.count"), r.read("c1.count")) == ("1", "5")
    r.cleanup()


def test_pull_context(tmp_path):
    flows_pcap(tmp_path / "f.pcap")
    r = run_config(f"FromDump({tmp_path}/f.pcap, STOP true, FORCE_IP true) -> q :: Queue -> AggregateIPFlows "
                   f"-> Unqueue -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "7"
    r = run_config(f"FromDump({tmp_path}/f.pcap) -> Queue -> AggregateIPFlows(FRAGMENTS true) -> Unqueue -> Discard")
    assert r.returncode != 0 and "incompatible with pull" in r.stderr
