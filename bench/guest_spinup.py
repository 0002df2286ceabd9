"""Guest spin-up: first packet in -> first packet out of a new guest, and the memory guests take.

    python bench/guest_spinup.py                        # 1,000 starts in each mode
    python bench/guest_spinup.py -n 200 --mode pool --plot spinup.png
    python bench/guest_spinup.py --memory 1000          # 1,000 idle guests: memory, then stop them all

Each start is timed as a switch sees it: the first frame of a new key goes
into the new guest's pipe ring at once (it waits there while the guest
starts), and the clock stops when that frame comes out of the guest's other
port. Modes:

- ``zygote``: every start forks (and sandboxes) a guest, which builds its
  router from the Plan;
- ``image``: as zygote, but the zygote prepared the image's router once
  (configured, handlers made): the guest only initializes it;
- ``pool``: a pool of ready sandboxes (forked, sandboxed, rings attached)
  waiting for their Plan, the image prepared; refilled between starts;
- ``warm``: guests already running the image's Plan, waiting for a key
  (``GuestSwitch(..., WARM N)``); refilled between starts.

A guest gets one pipe pair per port, 64 slots each way and a grant of 128
buffers (16 and 32 in --memory mode: idle guests), carved from the switch's
pool; --memory N sizes the pool for N guests (CLICKPY_BUFFERS) when it
would not hold them.

The guest runs a small firewall (IPFilter with four rules between two
ports). Prints p50/p90/p99/max and a text histogram; ``--plot FILE.png`` draws
one (matplotlib, if installed). ``--json`` prints the figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import sys
import time

GUEST = """
FromDevice(inside) -> CheckIPHeader(14) -> f :: IPFilter(allow tcp dst port 80, allow udp dst port 53,
    allow icmp, deny all) -> Queue -> ToDevice(outside);
FromDevice(outside) -> Queue -> ToDevice(inside);
"""

# A UDP packet to port 53 (10.0.0.1 -> 10.0.0.2): Ethernet, IPv4 with its checksum, UDP.
FRAME = bytes.fromhex(
    "02000000000202000000000108004500002300010000401166c70a0000010a000002"
    "d4310035000fb27368656c6c6f2121")


MODES = ("zygote", "image", "pool", "warm")


def percentiles(values: list[float]) -> dict:
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    return {"n": len(v), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": v[-1],
            "mean": sum(v) / len(v)}


class Bench:
    def __init__(self, pool: int, sandbox: bool, slots: int = 64, grant: int = 128, prepared: bool = True):
        from clickpy import pipeline
        from clickpy.guest.image import build
        from clickpy.guest.manager import GuestManager, GuestSpec
        from clickpy.runtime.scheduler import Scheduler, Timer

        plan = pipeline.plan(pipeline.Source(GUEST, "spinup.click"))
        self.spec = GuestSpec("spinup", plan.pack(), build(plan).ports)
        self.s = Scheduler()
        self.manager = GuestManager(self.s, 2, pool_size=pool, slots=slots, grant=grant,
                                    sandbox=sandbox, images=[self.spec] if prepared else [],
                                    prepare_images=prepared)
        self._timer = Timer(callback=lambda _t: self.s.please_stop())
        self._timer.initialize(self.s)
        self._done = False

    def run_until(self, condition, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while not condition():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._timer.schedule_after(min(left, 0.05))
            self.s.set_runcount(1)
            self.s.run()
        return True

    def settle(self) -> None:
        """Until every pooled sandbox waits for its Plan, and every warm guest for its key."""
        m = self.manager
        self.run_until(lambda: all(g.state == "idle" for g in m.pool)
                       and all(len(m.warm[i]) >= n for i, (_, n) in m.warm_specs.items()), 30)

    def one_start(self) -> float:
        """Seconds from the first frame in to the first frame out of a new guest."""
        t0 = time.perf_counter()
        g = self.manager.start(self.spec)
        g.ports[0].send([FRAME])
        out = g.ports[1]
        got = []

        def readable(fd, events):
            got.extend(out.recv())
            if got:
                self.s.please_stop()

        got.extend(out.recv())          # a sync that finds nothing arms the descriptor
        self.s.add_fd(out.fd, selectors.EVENT_READ, readable)
        ok = self.run_until(lambda: got or g.state in ("gone", "backoff"))
        t1 = time.perf_counter()
        self.s.remove_fd(out.fd)
        if not ok or not got:
            raise RuntimeError(f"guest {g.id} did not forward its first frame ({g.state}: {g.last_error})")
        self.manager.stop(g)
        self.run_until(lambda: g.state == "gone")
        return t1 - t0

    def close(self) -> None:
        self.manager.close()


def spinup(mode: str, n: int, sandbox: bool) -> list[float]:
    b = Bench(pool=4 if mode in ("pool", "warm") else 0, sandbox=sandbox, prepared=mode != "zygote")
    if mode == "warm":
        b.manager.keep_warm(b.spec, 2)
    try:
        times = []
        for _ in range(n):
            if mode in ("pool", "warm"):
                b.settle()
            times.append(b.one_start())
        return times
    finally:
        b.close()


def memory(n: int, sandbox: bool) -> dict:
    """Start n idle guests; their unique memory, and the machine's memory they took."""
    from clickpy.guest.agent import memory_use

    def available() -> int:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        return 0

    b = Bench(pool=0, sandbox=sandbox, slots=16, grant=32)
    before = available()
    t0 = time.perf_counter()
    guests = [b.manager.start(b.spec) for _ in range(n)]
    b.run_until(lambda: all(g.state in ("ready", "gone") for g in guests), 600)
    started = time.perf_counter() - t0
    ready = [g for g in guests if g.state == "ready"]
    uss = [memory_use(str(g.pid))["uss"] for g in ready]
    taken = before - available()
    t0 = time.perf_counter()
    for g in guests:
        b.manager.stop(g)
    b.run_until(lambda: all(g.state == "gone" for g in guests), 600)
    stopped = time.perf_counter() - t0
    b.close()
    return {"guests": n, "ready": len(ready), "start_seconds": started, "stop_seconds": stopped,
            "uss_p50": percentiles(uss)["p50"] if uss else 0, "uss_max": max(uss, default=0),
            "uss_total": sum(uss), "memavailable_drop": taken}


def histogram(values_ms: list[float], width: int = 50) -> str:
    top = max(values_ms)
    edges = [0.25 * 2 ** (i / 2) for i in range(40)]
    edges = [e for e in edges if e < top] + [top]
    counts, lo = [], 0.0
    for hi in edges:
        counts.append(sum(1 for v in values_ms if lo < v <= hi or (lo == 0 and v <= hi)))
        lo = hi
    peak = max(counts)
    lines, lo = [], 0.0
    for hi, c in zip(edges, counts):
        if c:
            lines.append(f"  {lo:7.2f}-{hi:7.2f} ms {c:5d} " + "#" * max(1, round(c / peak * width)))
        lo = hi
    return "\n".join(lines)


def plot(results: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot: matplotlib is not installed (pip install matplotlib); {path} not written", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, ms in results.items():
        ax.hist(ms, bins=60, alpha=0.6, label=f"{mode} (p50 {percentiles(ms)['p50']:.2f} ms)")
    ax.set_xlabel("first packet in -> first packet out (ms)")
    ax.set_ylabel("starts")
    ax.set_title("clickpy guest spin-up")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="starts per mode (default 1000)")
    ap.add_argument("--mode", action="append", choices=MODES, help="repeatable; default all")
    ap.add_argument("--no-sandbox", action="store_true", help="plain forks (no namespaces, filter or cap)")
    ap.add_argument("--memory", type=int, metavar="N", help="start N idle guests and report their memory")
    ap.add_argument("--plot", metavar="FILE.png")
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    sandbox = not ns.no_sandbox
    if ns.memory and "CLICKPY_BUFFERS" not in os.environ:
        # Before clickpy is imported: the pool must hold every guest's rings and grants.
        os.environ["CLICKPY_BUFFERS"] = str(max(1 << 17, 2 * (2 * 16 + 32) * ns.memory + 8192))
    if ns.memory:
        m = memory(ns.memory, sandbox)
        if ns.json:
            print(json.dumps(m))
        else:
            print(f"{m['ready']}/{m['guests']} idle guests started in {m['start_seconds']:.1f} s, "
                  f"stopped in {m['stop_seconds']:.1f} s")
            print(f"unique memory (USS) per guest: p50 {m['uss_p50'] / 2**20:.2f} MiB, "
                  f"max {m['uss_max'] / 2**20:.2f} MiB; total {m['uss_total'] / 2**20:.0f} MiB; "
                  f"MemAvailable fell by {m['memavailable_drop'] / 2**20:.0f} MiB")
        return 0
    results = {}
    for mode in ns.mode or MODES:
        ms = [t * 1e3 for t in spinup(mode, ns.n, sandbox)]
        results[mode] = ms
        p = percentiles(ms)
        if not ns.json:
            print(f"{mode}: {p['n']} starts, first packet in -> out: p50 {p['p50']:.2f} ms, "
                  f"p90 {p['p90']:.2f} ms, p99 {p['p99']:.2f} ms, max {p['max']:.2f} ms")
            print(histogram(ms))
    if ns.json:
        print(json.dumps({mode: percentiles(ms) for mode, ms in results.items()}))
    if ns.plot:
        plot(results, ns.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
