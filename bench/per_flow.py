#!/usr/bin/env python3
"""Per-flow guests under load: new flows arrive at a steady rate, each starts its own guest.

    sudo python bench/per_flow.py                       # 1,000 new flows/s for 10 s
    sudo python bench/per_flow.py --rate 200 --seconds 3 --json

Topology (namespaces this script makes and removes):

    [gen] g0 ==veth== sw-c [switch] sw-s ==veth== s0 [sink]

``clickpy switch`` runs in "switch" with a per-flow tenant over 10.0.0.0/8:
every new UDP 5-tuple starts a guest (a bump in the wire from a prepared
image), held in the switch's backlog until its guest is ready, and stopped
after an idle second. In "gen" a sender opens RATE new flows per second
for SECONDS (each flow: a first packet, and a second one 50 ms later), in
"sink" a receiver counts what arrives, by flow. Reported: flows sent, flows
whose first packet arrived, packets lost, guests started, how long the last
flows waited, the switch's drop counts, and its peak guest count.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from netns import Lab, control_read, is_root, wait_for  # noqa: E402

GUEST = """
FromDevice(inside) -> Queue(4096) -> ToDevice(outside);
FromDevice(outside) -> Queue(4096) -> ToDevice(inside);
"""

POLICY = """
[switch]
idle_timeout = "1s"
max_guests = 100000
backlog = 8

[[tenant]]
name = "flows"
image = "{image}"
match = ["ip 10.0.0.0/8"]
per = "flow"
max_guests = 100000
"""

# Sends RATE new flows per second for SECONDS: frames built once, sent by a raw socket on a clock.
SENDER = r"""
import socket, struct, sys, time
dev, dst_mac, src_mac, rate, seconds = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), \
    float(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
def frame(flow, seq):
    payload = struct.pack("!II", flow, seq) + bytes(10)
    udp = struct.pack("!HHHH", 1024 + flow % 60000, 9000, 8 + len(payload), 0) + payload
    src = bytes([10, 1, (flow >> 8) & 255, flow & 255]) if flow < 65536 else bytes([10, 2, (flow >> 8) & 255, flow & 255])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), flow & 0xffff, 0, 64, 17, 0, src, bytes([10, 9, 0, 1]))
    csum = sum(struct.unpack("!10H", ip))
    csum = (csum & 0xffff) + (csum >> 16); csum = (csum & 0xffff) + (csum >> 16)
    ip = ip[:10] + struct.pack("!H", ~csum & 0xffff) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp
n = int(rate * seconds)
t0 = time.monotonic()
second = []
for i in range(n):
    due = t0 + i / rate
    while second and second[0][0] <= time.monotonic():
        s.send(second.pop(0)[1])
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s.send(frame(i, 0))
    second.append((due + 0.05, frame(i, 1)))
for due, f in second:
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s.send(f)
print(n, time.monotonic() - t0, flush=True)
"""

# Counts frames by (flow, seq) until nothing came for IDLE seconds after the sender is done.
RECEIVER = r"""
import socket, struct, sys, time, select
dev, idle, expect = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)
s.bind((dev, 0x0800))
print("ready", flush=True)
seen = {}
first_at = last_at = None
while True:
    r, _, _ = select.select([s], [], [], idle)
    if not r:
        if len(seen) >= 2 * expect or first_at is not None:
            break
        continue
    data = s.recv(2048)
    if len(data) < 50 or data[23] != 17:
        continue
    flow, seq = struct.unpack("!II", data[42:50])
    seen[(flow, seq)] = seen.get((flow, seq), 0) + 1
    now = time.monotonic()
    first_at = first_at or now
    last_at = now
with open(sys.argv[4], "w") as f:       # (a file: the list outgrows a pipe's buffer)
    f.write(" ".join(f"{f}:{q}" for f, q in sorted(seen)))
print(len(seen), sum(seen.values()), (last_at - first_at) if first_at else 0, flush=True)
"""


def run(rate: float, seconds: float, idle: float = 3.0, out=sys.stderr) -> dict:
    from clickpy import pipeline
    from clickpy.guest.image import build

    tmp = Path(tempfile.mkdtemp(prefix="clickpy-per-flow-"))
    image = tmp / "bump.guest"
    image.write_bytes(build(pipeline.plan(pipeline.Source(GUEST, "bump.click"))).pack())
    (tmp / "policy.toml").write_text(POLICY.format(image=image))
    ctl = str(tmp / "switch.sock")
    log = tmp / "switch.log"
    flows = int(rate * seconds)
    with Lab() as lab:
        gen, sw, sink = lab.namespace("gen"), lab.namespace("sw"), lab.namespace("sink")
        lab.veth(gen, "g0", sw, "sw-c")
        lab.veth(sink, "s0", sw, "sw-s")
        env = dict(os.environ, CLICKPY_BUFFERS=str(1 << 19))
        switch = sw.popen([sys.executable, "-m", "clickpy", "switch", str(tmp / "policy.toml"), "--port", "sw-c",
                           "--port", "sw-s", "--pool", "4", "-u", ctl], stdout=subprocess.DEVNULL,
                          stderr=open(log, "w"), env=env)
        if not wait_for(lambda: switch.poll() is not None or os.path.exists(ctl), 60) or switch.poll() is not None:
            raise RuntimeError(f"the switch did not start: {log.read_text()}")
        receiver = sink.popen([sys.executable, "-c", RECEIVER, "s0", str(idle), str(flows), str(tmp / "seen")],
                              stdout=subprocess.PIPE, text=True)
        assert receiver.stdout.readline().strip() == "ready"
        print(f"sending {flows} new flows at {rate:g}/s ...", file=out, flush=True)
        t0 = time.monotonic()
        sent = gen.run([sys.executable, "-c", SENDER, "g0", sink.mac("s0").replace(":", ""),
                        gen.mac("g0").replace(":", ""), str(rate), str(seconds)], timeout=seconds * 3 + 60)
        if sent.returncode != 0:
            raise RuntimeError(f"sender: {sent.stderr}")
        send_seconds = float(sent.stdout.split()[1])
        peak = 0

        def drained():
            # (sw.manager's counts, not the sw.guests table: formatting thousands of
            # rows every half second would stall the switch this measures)
            nonlocal peak
            counts = control_read(ctl, "sw.manager")
            n = dict(line.split(None, 1) for line in counts.splitlines())
            peak = max(peak, int(n.get("started", 0)) - int(n.get("stopped", 0)))
            if os.environ.get("PER_FLOW_DEBUG"):
                print(f"{time.monotonic() - t0:6.1f} s:", counts.replace("\n", " "), file=out, flush=True)
            return receiver.poll() is not None

        wait_for(drained, timeout=600, interval=0.5)
        done = time.monotonic() - t0
        got, count, span = map(float, receiver.stdout.readline().split())
        pairs = {tuple(map(int, x.split(":"))) for x in (tmp / "seen").read_text().split()}
        manager = dict(line.split(None, 1) for line in control_read(ctl, "sw.manager").splitlines())
        reasons = dict(line.split() for line in control_read(ctl, "sw.drop_reasons").splitlines())
        # and what the switch's own ports and queues dropped
        for name in control_read(ctl, "list").split()[1:]:
            if name != "sw":
                try:
                    reasons[name] = control_read(ctl, f"{name}.drops").strip()
                except Exception:
                    pass
        lab.stop(switch)
    firsts = sum(1 for f in range(flows) if (f, 0) in pairs)
    return {"rate": rate, "seconds": seconds, "flows": flows, "packets_sent": 2 * flows,
            "send_seconds": send_seconds, "first_packets_forwarded": firsts,
            "packets_forwarded": int(got), "duplicates": int(count - got), "lost": 2 * flows - int(got),
            "drain_seconds": done, "guests_started": int(manager.get("started", 0)),
            "guests_ready": int(manager.get("ready", 0)), "peak_guests": peak,
            "switch_drops": {k: int(v) for k, v in reasons.items() if v != "0"}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=1000, help="new flows per second (default 1000)")
    ap.add_argument("--seconds", type=float, default=10, help="how long flows keep coming (default 10)")
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    if not is_root():
        print("per_flow.py: needs root (network namespaces)", file=sys.stderr)
        return 1
    r = run(ns.rate, ns.seconds)
    if ns.json:
        print(json.dumps(r))
        return 0
    print(f"{r['flows']} new flows at {r['rate']:g}/s over {r['send_seconds']:.1f} s: "
          f"{r['first_packets_forwarded']}/{r['flows']} first packets forwarded, "
          f"{r['lost']} of {r['packets_sent']} packets lost, {r['duplicates']} duplicated")
    print(f"{r['guests_ready']} guests started, at most {r['peak_guests']} at once; the last flow's packets "
          f"arrived {r['drain_seconds']:.1f} s after the first was sent; switch drops: "
          f"{r['switch_drops'] or 'none'}")
    return 0 if r["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
