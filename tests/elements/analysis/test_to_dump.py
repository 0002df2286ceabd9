"""ToDump: writing pcap files (read back with FromDump, pcap_format and scapy)."""
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap
from scapy.layers.l2 import Dot1Q

from clickpy.elements.analysis import pcap_format as pcap
from support import run_config

NS = 1_000_000_000


def mixed_packets():
    """A few real frames of several kinds, with distinct timestamps."""
    pkts = [
        Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb") / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, flags="S"),
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=1234, flags="SA") / Raw(b"x" * 100),
        Ether() / IP(src="192.168.1.1", dst="8.8.8.8") / UDP(sport=5353, dport=53) / Raw(b"query"),
        Ether() / IP(src="1.2.3.4", dst="5.6.7.8") / ICMP(),
        Ether(type=0x0806) / Raw(b"\x00" * 28),          # not IP
        Ether() / Dot1Q(vlan=5) / IP(src="9.9.9.9", dst="8.8.4.4") / UDP(sport=1, dport=2),
    ]
    for i, p in enumerate(pkts):
        p.time = 1000 + i * 0.25
    return pkts


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_todump_snaplen_and_extra_length(tmp_path):
    data = pcap.file_header(1) + pcap.record(NS, bytes(range(100)), 150)
    f = write(tmp_path / "f.pcap", data)
    r = run_config(f"FromDump({f}, STOP true) -> ToDump({tmp_path}/o.pcap, 40)")
    assert r.returncode == 0, r.stderr
    linktype, nano, recs = pcap.read_records((tmp_path / "o.pcap").read_bytes())
    assert linktype == 1 and not nano
    assert recs == [(NS, bytes(range(40)), 150)]
    r = run_config(f"FromDump({f}, STOP true) -> ToDump({tmp_path}/o2.pcap, 40, EXTRA_LENGTH false)")
    assert pcap.read_records((tmp_path / "o2.pcap").read_bytes())[2] == [(NS, bytes(range(40)), 100)]


def test_todump_encap_and_use_encap_from(tmp_path):
    data = pcap.file_header(pcap.DLT_LINUX_SLL) + pcap.record(NS, bytes(30))
    f = write(tmp_path / "f.pcap", data)
    r = run_config(f"fd :: FromDump({f}, STOP true) -> ToDump({tmp_path}/o.pcap, USE_ENCAP_FROM fd)")
    assert r.returncode == 0, r.stderr
    assert pcap.read_records((tmp_path / "o.pcap").read_bytes())[0] == pcap.DLT_LINUX_SLL
    r = run_config(f"InfiniteSource(LIMIT 1, STOP true) -> ToDump({tmp_path}/o.pcap, ENCAP IP)")
    assert pcap.read_records((tmp_path / "o.pcap").read_bytes())[0] == pcap.DLT_RAW
    r = run_config(f"InfiniteSource(LIMIT 1, STOP true) -> ToDump({tmp_path}/o.pcap, ENCAP BOGUS)")
    assert r.returncode != 0 and "bad encapsulation type" in r.stderr
    r = run_config(f"fd :: FromDump({f}) -> ToDump({tmp_path}/o.pcap, ENCAP IP, USE_ENCAP_FROM fd)")
    assert r.returncode != 0 and "at most one of" in r.stderr


def test_todump_stamps_packets_without_a_timestamp_with_the_current_time(tmp_path):
    r = run_config(f"InfiniteSource(LIMIT 2, STOP true, TIMESTAMP false) -> ToDump({tmp_path}/o.pcap)",
                   "--simtime")
    assert r.returncode == 0, r.stderr
    recs = pcap.read_records((tmp_path / "o.pcap").read_bytes())[2]
    # Click's simulated time starts at 1,000,000,000 seconds
    assert [t // NS for t, _, _ in recs] == [1_000_000_000, 1_000_000_000]


def test_todump_to_standard_output(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "clickpy", "run", "-e",
                        "InfiniteSource(LIMIT 3, LENGTH 64, STOP true) -> ToDump(-, ENCAP ETHER)"],
                       capture_output=True)
    assert p.returncode == 0, p.stderr
    linktype, nano, recs = pcap.read_records(p.stdout)
    assert len(recs) == 3 and all(len(d) == 64 for _, d, _ in recs)


def test_todump_pull_with_a_task_and_pull_through(tmp_path):
    r = run_config(f"InfiniteSource(LIMIT 5, STOP true) -> Queue -> ToDump({tmp_path}/a.pcap)")
    assert r.returncode == 0, r.stderr
    assert len(pcap.read_records((tmp_path / "a.pcap").read_bytes())[2]) == 5
    r = run_config(f"InfiniteSource(LIMIT 5, STOP true) -> Queue -> t :: ToDump({tmp_path}/b.pcap) "
                   f"-> Unqueue -> c :: Counter -> Discard", "-h", "c.count", "-h", "t.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["c.count:", "5", "t.count:", "5"]
    assert len(pcap.read_records((tmp_path / "b.pcap").read_bytes())[2]) == 5


def test_todump_unwritable_file(tmp_path):
    r = run_config(f"InfiniteSource(LIMIT 1) -> ToDump({tmp_path}/no/such/dir/o.pcap)")
    assert r.returncode != 0
    assert "No such file or directory" in r.stderr


def test_scapy_reads_what_todump_writes(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true, FORCE_IP true) -> ToDump({tmp_path}/o.pcap)")
    assert r.returncode == 0, r.stderr
    got = rdpcap(str(tmp_path / "o.pcap"))
    assert [p[IP].src for p in got] == ["10.0.0.1", "10.0.0.2", "192.168.1.1", "1.2.3.4", "9.9.9.9"]


def test_round_trip_is_byte_identical(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets())
    r = run_config(f"FromDump({src}, STOP true) -> ToDump({tmp_path}/out.pcap, SNAPLEN 65535)")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.pcap").read_bytes() == src.read_bytes()


def test_batches_and_single_packets_write_the_same_file(tmp_path):
    src = tmp_path / "in.pcap"
    wrpcap(str(src), mixed_packets() * 50)
    run_config(f"FromDump({src}, STOP true, BURST 64) -> ToDump({tmp_path}/a.pcap, SNAPLEN 65535)")
    run_config(f"FromDump({src}, STOP true) -> ToDump({tmp_path}/b.pcap, SNAPLEN 65535)", "--per-packet")
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes() == src.read_bytes()
