"""configs/firewall.click, the README's quick start, over its bundled trace."""
import subprocess
import sys

from scapy.all import IP, TCP, UDP, ICMP, rdpcap

from support import REPO

CONFIG = REPO / "configs" / "firewall.click"
TRACE = REPO / "configs" / "traces" / "mixed.pcap"


def run_firewall(tmp_path, *defines):
    out = tmp_path / "accepted.pcap"
    result = subprocess.run([sys.executable, "-m", "clickpy", "run", str(CONFIG), f"IN={TRACE}", f"OUT={out}", *defines],
                            capture_output=True, text=True, timeout=120)
    return result, out


def test_bundled_trace_is_what_the_generator_writes(tmp_path):
    regenerated = tmp_path / "mixed.pcap"
    subprocess.run([sys.executable, str(TRACE.with_name("make_mixed.py")), str(regenerated)], check=True, timeout=120)
    assert regenerated.read_bytes() == TRACE.read_bytes()


def test_quickstart_prints_its_accounting(tmp_path):
    result, out = run_firewall(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"firewall: read 964 frames from {TRACE}"
    assert lines[1] == f"  accepted 868, written to {out}"
    assert lines[2] == "  refused by rule 80, bad IP header 12, not IP or ARP 4"
    # CheckIPHeader reports the first bad header once, as Click's does
    assert "IP header check failed" in result.stderr


def test_only_allowed_traffic_is_written(tmp_path):
    result, out = run_firewall(tmp_path)
    assert result.returncode == 0, result.stderr
    accepted = rdpcap(str(out))
    assert len(accepted) == 868
    for frame in accepted:
        if IP not in frame:
            continue                                    # ARP passes untouched
        ip = frame[IP]
        outbound = ip.src.startswith("10.")
        web_reply = TCP in ip and ip[TCP].sport in (80, 443)
        dns_reply = UDP in ip and ip[UDP].sport == 53
        ping_reply = ICMP in ip and ip[ICMP].type == 0
        assert outbound or web_reply or dns_reply or ping_reply, frame.summary()
        assert not (TCP in ip and ip[TCP].dport in (22, 3389, 23) and not outbound)


def test_lan_parameter_changes_the_decision(tmp_path):
    # with a LAN that holds none of the trace's hosts, their outbound packets are refused too
    result, _ = run_firewall(tmp_path, "LAN=172.16.0.0/12")
    assert result.returncode == 0, result.stderr
    assert "refused by rule 80," not in result.stdout
    assert "accepted 868," not in result.stdout
