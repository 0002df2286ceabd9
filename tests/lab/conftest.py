"""Fixtures for configurations tested in a `clickpy lab`: client - middlebox - server.

``lab_up(config, NAME=value...)`` brings a lab up with the real command
(``clickpy lab up``) under a name of this test process's own, so that a lab
left by a killed run is swept by the next (tests/netns.py sweep_stale), and
takes it down afterwards, pass or fail.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from netns import is_root, sweep_stale
from support import REPO

from clickpy.lab import Lab

CONFIGS = REPO / "configs"

HTTP_SERVER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{self.server.server_address[0]} saw {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print("request from", self.client_address[0], flush=True)
s = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H)
print("listening", flush=True)
s.serve_forever()
"""

HTTP_GET = r"""
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        print(r.status, r.read().decode().strip())
except Exception as e:
    print("failed", type(e).__name__, e)
"""

CONNECT = r"""
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused" if e.errno == 111 else f"error {e.errno}")
"""

# Pings (ICMP echo over a raw socket: no ping(8) needed), one per address in
# turn; prints who replied.
PING = r"""
import socket, struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff

for n, dst in enumerate(sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(5)
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4321 + n, 1) + b"clickpy-ping"
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    s.sendto(body, (dst, 0))
    try:
        while True:
            data, addr = s.recvfrom(2000)
            ihl = (data[0] & 15) * 4
            if data[ihl] == 0 and data[ihl + 4:ihl + 6] == struct.pack("!H", 0x4321 + n):
                print("reply from", addr[0]); break
    except socket.timeout:
        print("no reply from", dst)
"""


# Sends 8-byte sequence numbers (in 64-byte datagrams) at RATE a
# second until told to stop on stdin; prints how many it sent.
UDP_SEQ_SENDER = r"""
import select, socket, struct, sys, time
dst, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
print("sending", flush=True)
start, seq, pad = time.monotonic(), 0, bytes(56)
while not select.select([sys.stdin], [], [], 0.0005)[0]:
    due = int((time.monotonic() - start) * rate)
    while seq < due:
        s.sendto(struct.pack("!Q", seq) + pad, (dst, port))
        seq += 1
print(seq, flush=True)
"""

# Records the sequence numbers that arrive until none has for 3 s; with a
# third argument 'times', also when each arrived (the kernel's receive
# timestamp, seconds since the epoch), in arrival order.
UDP_SEQ_RECEIVER = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)   # SO_RCVBUFFORCE (root): past rmem_max
SO_TIMESTAMPNS = 35                               # Linux's; Python does not name it
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(60)
print("listening", flush=True)
seen, sources, times = set(), set(), []
try:
    while True:
        data, ancillary, _, addr = s.recvmsg(2048, 64)
        seen.add(struct.unpack("!Q", data[:8])[0])
        sources.add(addr[0])
        for level, kind, value in ancillary:
            if kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                times.append(round(sec + nsec / 1e9, 6))
        s.settimeout(3)
except socket.timeout:
    pass
result = {"seen": sorted(seen), "sources": sorted(sources)}
if sys.argv[3:] == ["times"]:
    result["times"] = times
print(json.dumps(result), flush=True)
"""


class RunningLab:
    """A lab that is up: run programs in its namespaces, read middlebox handlers."""

    def __init__(self, lab: Lab, output: str):
        self.lab = lab
        self.output = output
        self.procs: list[subprocess.Popen] = []

    def run(self, role, argv, timeout=60) -> subprocess.CompletedProcess:
        p = self.lab.popen(role, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        return subprocess.CompletedProcess(argv, p.returncode, out, err)

    def python(self, role, code, *args, timeout=60) -> str:
        r = self.run(role, [sys.executable, "-c", code, *map(str, args)], timeout=timeout)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def http_server(self, address, port=8000) -> subprocess.Popen:
        p = self.lab.popen("server", [sys.executable, "-u", "-c", HTTP_SERVER, address, str(port)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        self.procs.append(p)
        assert p.stdout.readline().strip() == "listening", p.stderr.read()
        return p

    @staticmethod
    def requests_seen(server: subprocess.Popen) -> list[str]:
        """The client addresses an http_server logged, after stopping it."""
        server.kill()
        out, _ = server.communicate(timeout=10)
        return [line.split()[-1] for line in out.splitlines() if line.startswith("request from")]

    def get(self, url, timeout=10) -> str:
        return self.python("client", HTTP_GET, url, timeout)

    def connect(self, address, port, timeout=3) -> str:
        return self.python("client", CONNECT, address, port, timeout)

    def ping(self, *addresses) -> list[str]:
        return self.python("client", PING, *addresses).splitlines()

    def read(self, handler: str) -> str:
        return self.lab.read(handler).strip()

    def log(self) -> str:
        try:
            return self.lab.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(5)
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
        self.lab.down(quiet=True)


@pytest.fixture
def lab_up(tmp_path):
    if not is_root():
        pytest.skip("needs root (network namespaces)")
    sweep_stale()
    made: list[RunningLab] = []
    state_dir = str(tmp_path / "lab")

    def up(config, *definitions) -> RunningLab:
        """Bring a lab up running configs/CONFIG (a name in configs/ or a path)."""
        config = CONFIGS / config if not os.path.isabs(str(config)) else config
        lab = Lab(f"clkt{os.getpid()}-lab{len(made)}", state_dir)
        r = subprocess.run([sys.executable, "-m", "clickpy", "lab", "--name", lab.name, "--state-dir",
                            state_dir, "up", str(config), *definitions],
                           capture_output=True, text=True, timeout=120)
        running = RunningLab(lab, r.stdout)
        made.append(running)
        assert r.returncode == 0, r.stderr + r.stdout
        return running

    yield up
    for running in made:
        running.close()
