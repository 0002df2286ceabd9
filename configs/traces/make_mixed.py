"""Write mixed.pcap: the sample trace that configs/firewall.click filters.

A minute of made-up traffic at the edge of a 10.0.0.0/8 network, in the
proportions a small office might see: its own outbound connections, replies
from web and DNS servers, ping replies, ARP, and the things a firewall is for
(inbound SSH and RDP probes, a scan of high ports, packets with broken IP
headers, and a few non-IP frames). Deterministic: the same file every time.

    python configs/traces/make_mixed.py [OUT.pcap]
"""
import random
import sys

from scapy.all import ARP, DNS, DNSQR, ICMP, IP, TCP, UDP, Ether, Raw, wrpcap

LAN_HOSTS = [f"10.0.{i // 250}.{i % 250 + 2}" for i in range(40)]
WEB_SERVERS = ["93.184.216.34", "151.101.1.69", "140.82.112.3"]
DNS_SERVER = "9.9.9.9"
ATTACKERS = ["203.0.113.7", "198.51.100.23", "192.0.2.99"]
GATEWAY_MAC, LAN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def frame(ip_packet, inbound):
    src, dst = (GATEWAY_MAC, LAN_MAC) if inbound else (LAN_MAC, GATEWAY_MAC)
    return Ether(src=src, dst=dst) / ip_packet


def build(rng):
    frames = []
    for _ in range(400):                      # outbound web and DNS, with replies
        host, sport = rng.choice(LAN_HOSTS), rng.randrange(32768, 61000)
        if rng.random() < 0.7:
            server, dport = rng.choice(WEB_SERVERS), rng.choice([80, 443])
            frames.append(frame(IP(src=host, dst=server) / TCP(sport=sport, dport=dport, flags="PA") / Raw(b"GET / HTTP/1.1\r\n\r\n"), False))
            frames.append(frame(IP(src=server, dst=host) / TCP(sport=dport, dport=sport, flags="PA") / Raw(b"HTTP/1.1 200 OK\r\n\r\n"), True))
        else:
            query = DNS(rd=1, qd=DNSQR(qname="example.org"))
            frames.append(frame(IP(src=host, dst=DNS_SERVER) / UDP(sport=sport, dport=53) / query, False))
            frames.append(frame(IP(src=DNS_SERVER, dst=host) / UDP(sport=53, dport=sport) / DNS(id=query.id, qr=1, qd=query.qd), True))
    for _ in range(30):                       # pings out, replies in
        host, server = rng.choice(LAN_HOSTS), rng.choice(WEB_SERVERS)
        frames.append(frame(IP(src=host, dst=server) / ICMP(type="echo-request", id=7, seq=1), False))
        frames.append(frame(IP(src=server, dst=host) / ICMP(type="echo-reply", id=7, seq=1), True))
    for _ in range(60):                       # inbound probes a firewall refuses
        attacker, host = rng.choice(ATTACKERS), rng.choice(LAN_HOSTS)
        dport = rng.choice([22, 3389, 23, rng.randrange(1024, 65536)])
        frames.append(frame(IP(src=attacker, dst=host) / TCP(sport=rng.randrange(1024, 65536), dport=dport, flags="S"), True))
    for _ in range(20):                       # unsolicited pings from outside
        frames.append(frame(IP(src=rng.choice(ATTACKERS), dst=rng.choice(LAN_HOSTS)) / ICMP(type="echo-request"), True))
    for _ in range(8):                        # ARP on the LAN side
        frames.append(Ether(src=LAN_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=rng.choice(LAN_HOSTS), pdst="10.0.0.1"))
    for _ in range(6):                        # broken IPv4 headers: bad checksum, bad version
        bad = IP(bytes(IP(src=rng.choice(ATTACKERS), dst=rng.choice(LAN_HOSTS)) / UDP(dport=53)))
        bad.chksum = (bad.chksum + 1) & 0xFFFF
        frames.append(frame(bad, True))
        frames.append(Ether(src=GATEWAY_MAC, dst=LAN_MAC, type=0x0800) / Raw(b"\x65" + bytes(27)))
    for _ in range(4):                        # neither IP nor ARP (IPv6)
        frames.append(Ether(src=GATEWAY_MAC, dst=LAN_MAC, type=0x86DD) / Raw(bytes(40)))
    rng.shuffle(frames)
    for i, f in enumerate(frames):
        f.time = 1_700_000_000 + i * 0.05
    return frames


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "mixed.pcap"
    wrpcap(out, build(random.Random(2026)))
