#!/usr/bin/env python3
"""Forwarding and receive rates through clickpy between veth pairs, with
Linux forwarding the same traffic in the same topology as the baseline.

    sudo python bench/veth_forwarding.py                 # everything, 5 s each
    sudo python bench/veth_forwarding.py --seconds 3 --only kernel afxdp

Topology (all in namespaces this script makes and removes):

    [gen] g0 ==veth== g1 [fwd] s1 ==veth== s0 [sink]

trafgen in "gen" sends 64-byte UDP frames (60 bytes + FCS) as fast as it
can, pinned to CPU 0. In "fwd":

* kernel:   ip_forward=1, routes and a static neighbour; the kernel forwards.
* afxdp, afpacket, afxdp-private: ``configs/bridge.click`` (DEV0=g1 DEV1=s1)
  with that METHOD (afxdp-private: a private UMEM with copies instead of
  the buffer pool), pinned to CPU 1.
* rx-afxdp, rx-afpacket: ``FromDevice(g1) -> Counter -> Discard`` only.

A forwarding rate is what arrives at s0 (its rx counter) over the
measuring window, after a warm-up; a receive rate is the Counter's count
over the window, read through a ControlSocket. Every figure is printed
with its ratio to the kernel's forwarding rate measured in the same run.

Where the time goes: for each clickpy mode the report gives the share of
a CPU clickpy used, the share of the window it was runnable but waiting
for its CPU (/proc/PID/schedstat: other processes on a shared machine),
and the rate per CPU-second it used (what one free core would give, to a
first approximation). ``-v`` adds clickpy's counters per second: frames
the kernel dropped because clickpy's receive ring was full
(from0.kernel_drops), queue drops, frames sent. The kernel baseline runs
in softirq on the generator's CPU, so on a machine with few cores it is
bounded by the generator: compare its offered and forwarded rates.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from netns import Lab, control_read, is_root, wait_for  # noqa: E402

FAKE_MAC = "02:00:00:00:00:99"

MODES = ["kernel", "afxdp", "afpacket", "afxdp-private", "rx-afxdp", "rx-afpacket"]


def trafgen_config(dst_mac: str, src_mac: str) -> str:
    """One 60-byte UDP frame (64 on the wire with the FCS) from 10.1.0.2 to 10.2.0.2."""
    mac = lambda m: ", ".join(f"0x{b}" for b in m.split(":"))
    return (
        "{\n"
        f"  {mac(dst_mac)},\n  {mac(src_mac)},\n  c16(0x0800),\n"
        "  0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),\n"
        "  10, 1, 0, 2,  10, 2, 0, 2,\n"
        "  c16(1024), c16(5000), c16(26), c16(0),\n"
        "  fill(0x00, 18),\n"
        "}\n"
    )


class Topology:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.gen = lab.namespace("gen")
        self.fwd = lab.namespace("fwd")
        self.sink = lab.namespace("sink")
        lab.veth(self.gen, "g0", self.fwd, "g1")
        lab.veth(self.sink, "s0", self.fwd, "s1")

    def kernel_forwarding(self, on: bool) -> None:
        fwd = self.fwd
        if on:
            fwd.addr("g1", "10.1.0.1/24")
            fwd.addr("s1", "10.2.0.1/24")
            fwd.neigh("s1", "10.2.0.2", FAKE_MAC)
            fwd.sysctl("net.ipv4.ip_forward", 1)
        else:
            fwd.sysctl("net.ipv4.ip_forward", 0)
            for ifname in ("g1", "s1"):
                fwd.ipr.flush_addr(index=fwd.index(ifname))


BRIDGE_COUNTERS = ("from0.count", "from0.kernel_drops", "from0.drops", "q01.drops", "to1.count", "to1.drops")


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of pid so
    far (/proc/PID/schedstat): the second is what other processes on the
    same CPU took from it."""
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu, waiting = f.read().split()[:2]
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _counters(ctl: str, names) -> dict:
    out = {}
    for name in names:
        v = control_read(ctl, name)
        out[name] = int(v) if v.isdigit() else 0
    return out


def measure(topo: Topology, mode: str, seconds: float, warmup: float, cfgfile: str) -> dict:
    lab, gen, fwd, sink = topo.lab, topo.gen, topo.fwd, topo.sink
    click = None
    ctl = None
    env = dict(os.environ)
    names = ()
    if mode == "kernel":
        topo.kernel_forwarding(True)
    else:
        ctl = tempfile.mktemp(prefix="clickpy-bench-", suffix=".sock")
        method = mode.split("-")[1] if mode.startswith("rx-") else mode.split("-")[0]
        if mode == "afxdp-private":
            env["CLICKPY_AFXDP_UMEM"] = "private"
        if mode.startswith("rx-"):
            argv = ["-e", f"c0 :: FromDevice(g1, SNIFFER false, METHOD {method.upper()}, BURST 64) "
                          f"-> c :: Counter -> Discard"]
            names = ("c.count", "c0.kernel_drops")
        else:
            argv = [str(REPO / "configs" / "bridge.click"), "DEV0=g1", "DEV1=s1", f"METHOD={method.upper()}"]
            names = BRIDGE_COUNTERS
        click = fwd.popen(["taskset", "-c", "1", sys.executable, "-m", "clickpy", "run", "-u", ctl, *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        if not wait_for(lambda: os.path.exists(ctl) or click.poll() is not None, 30) or click.poll() is not None:
            err = click.stderr.read().decode() if click.poll() is not None else "timed out"
            raise RuntimeError(f"{mode}: clickpy did not start: {err}")
        time.sleep(0.5)
    gen_proc = gen.popen(["taskset", "-c", "0", "trafgen", "-i", cfgfile, "-o", "g0", "--cpus", "1",
                          "-C", "--no-sock-mem", "-Q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        t0 = time.monotonic()
        sent0 = gen.stats("g0")["tx_packets"]
        got0 = sink.stats("s0")["rx_packets"]
        c0 = _counters(ctl, names) if ctl else {}
        cpu0 = _cpu_seconds(click.pid) if click else (0.0, 0.0)
        time.sleep(seconds)
        cpu1 = _cpu_seconds(click.pid) if click else (0.0, 0.0)
        c1 = _counters(ctl, names) if ctl else {}
        got1 = sink.stats("s0")["rx_packets"]
        sent1 = gen.stats("g0")["tx_packets"]
        dt = time.monotonic() - t0
    finally:
        lab.stop(gen_proc)
        if click is not None:
            lab.stop(click)
        if mode == "kernel":
            topo.kernel_forwarding(False)
        if ctl and os.path.exists(ctl):
            os.unlink(ctl)
    offered = (sent1 - sent0) / dt
    if mode.startswith("rx-"):
        rate = (c1["c.count"] - c0["c.count"]) / dt
    else:
        rate = (got1 - got0) / dt
    counts = {k: (c1[k] - c0[k]) / dt / 1e6 for k in c1}
    return {"mode": mode, "mpps": rate / 1e6, "offered_mpps": offered / 1e6,
            "cpu": (cpu1[0] - cpu0[0]) / dt if click else None,
            "cpu_wait": (cpu1[1] - cpu0[1]) / dt if click else None, "counters": counts}


def run(modes, seconds=5.0, warmup=1.5, out=sys.stdout, verbose=False) -> list[dict]:
    if not is_root():
        raise SystemExit("veth_forwarding: needs root (network namespaces)")
    results = []
    with Lab() as lab:
        topo = Topology(lab)
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
            f.write(trafgen_config(topo.fwd.mac("g1"), topo.gen.mac("g0")))
            cfgfile = f.name
        try:
            ordered = ["kernel"] + [m for m in modes if m != "kernel"]
            for mode in ordered:
                r = measure(topo, mode, seconds, warmup, cfgfile)
                results.append(r)
                base = results[0]["mpps"] if results[0]["mode"] == "kernel" else None
                ratio = f"{r['mpps'] / base:5.2f}x kernel" if base else ""
                kind = "receive" if mode.startswith("rx-") else "forward"
                cpu = (f"  clickpy on CPU {r['cpu']:4.0%} (waiting for one {r['cpu_wait']:4.0%}): "
                       f"{r['mpps'] / r['cpu']:.2f} Mpps per CPU-second"
                       if r["cpu"] else "")
                print(f"{mode:15s} {kind:8s} {r['mpps']:6.3f} Mpps  (offered {r['offered_mpps']:.3f} Mpps)  "
                      f"{ratio}{cpu}", file=out, flush=True)
                if verbose and r["counters"]:
                    print("                " + "  ".join(f"{k} {v:.3f}" for k, v in r["counters"].items())
                          + "  (Mpps)", file=out, flush=True)
        finally:
            os.unlink(cfgfile)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measuring window per mode")
    p.add_argument("--warmup", type=float, default=1.5)
    p.add_argument("--only", nargs="*", choices=MODES, help="modes to run (kernel always runs)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print clickpy's counters (per second): where frames are lost")
    ns = p.parse_args(argv)
    run(ns.only or MODES, ns.seconds, ns.warmup, verbose=ns.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
