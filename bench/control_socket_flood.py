"""Forwarding while ControlSocket clients misbehave.

Runs ``InfiniteSource -> Counter -> Discard`` with a ControlSocket and
measures the forwarding rate (packets per second, from the counter) in three
phases of equal length, in one run:

  idle     no client is busy;
  flood    one client sends READ commands as fast as the router answers them,
           while another sends READs and never reads its replies;
  idle2    the clients are gone again.

    python bench/control_socket_flood.py [--seconds 3]

The flood's rate should stay within 10% of the idle rate: commands take at
most a small share of the router's time while it has packets to move.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

# The router reports its own counter every 0.1 s on stdout, so the rate is
# measured without the ControlSocket that the clients are abusing.
CONFIG = ("InfiniteSource(LENGTH 60, BURST 32) -> c :: Counter -> Discard;"
          "Script(TYPE ACTIVE, label l, print \"$(now) $(c.count)\", wait 0.1s, goto l)")


class _Samples:
    """(time, count) lines the router prints, read in a thread."""

    def __init__(self, stream):
        self.samples = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            t, _, n = line.partition(" ")
            try:
                self.samples.append((float(t), int(n)))
            except ValueError:
                pass

    def rate(self, seconds: float) -> float:
        """Packets per second over the next `seconds`, from the router's own reports."""
        start = len(self.samples)
        time.sleep(seconds)
        window = self.samples[start:]
        if len(window) < 2:
            return 0.0  # the router stopped reporting: it is stalled
        (t0, n0), (t1, n1) = window[0], window[-1]
        return (n1 - n0) / (t1 - t0)


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    try:
        s.recv(64)  # greeting
    except socket.timeout:
        pass
    return s


def _flooder(path: str, stop: threading.Event, answered: list) -> None:
    s = _connect(path)
    s.settimeout(0.5)
    batch = b"read c.count\n" * 64
    while not stop.is_set():
        try:
            s.sendall(batch)
            answered[0] += len(s.recv(1 << 20))
        except (socket.timeout, OSError):
            pass
    s.close()


def _never_reads(path: str, stop: threading.Event, sent: list) -> None:
    s = _connect(path)
    s.setblocking(False)
    batch = b"read c.count\n" * 1024
    while not stop.is_set():
        try:
            sent[0] += s.send(batch)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break  # disconnected by the router
    s.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each phase")
    args = ap.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="clickpy-flood-")
    path = os.path.join(folder, "ctl")
    proc = subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-u", path, "-e", CONFIG],
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(path):
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit("router did not start")
            time.sleep(0.05)
        samples = _Samples(proc.stdout)
        time.sleep(0.5)
        idle = samples.rate(args.seconds)
        stop = threading.Event()
        answered, sent = [0], [0]
        threads = [threading.Thread(target=_flooder, args=(path, stop, answered), daemon=True),
                   threading.Thread(target=_never_reads, args=(path, stop, sent), daemon=True)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        flood = samples.rate(args.seconds)
        stop.set()
        for t in threads:
            t.join(timeout=5)
        time.sleep(0.5)
        idle2 = samples.rate(args.seconds)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.rmdir(folder)
    base = (idle + idle2) / 2
    print(f"{'phase':<8} {'Mpps':>8} {'vs idle':>8}")
    for name, rate in (("idle", idle), ("flood", flood), ("idle2", idle2)):
        print(f"{name:<8} {rate / 1e6:8.2f} {rate / base:8.2f}x")
    print(f"flooding client got {answered[0] / 1e6:.1f} MB of replies; "
          f"the client that never reads sent {sent[0] / 1e6:.1f} MB of commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
