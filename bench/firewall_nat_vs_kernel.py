#!/usr/bin/env python3
"""The clickpy firewall and NAT against the Linux kernel with nftables, on a veth path.

    sudo python bench/firewall_nat_vs_kernel.py                  # everything, 5 s per mode
    sudo python bench/firewall_nat_vs_kernel.py --seconds 3 --only kernel-fw fw-afxdp
    sudo python bench/firewall_nat_vs_kernel.py --no-memory -v

Topology (namespaces this script makes and removes, tests/netns.py's Lab):

    [gen] g0 ==veth== g1 [mid] s1 ==veth== s0 [sink]

trafgen (netsniff-ng) in "gen" sends 64-byte UDP frames (60 bytes + FCS)
from 10.1.0.2 to 10.2.0.2 port 5000 as fast as it can, pinned to CPU 0:
one flow for the firewall, 9,984 flows (source ports 1024-11007) for the
NAT. "mid" does the job, one mode after another in the same run:

* kernel-fw:  ip_forward with an nftables forward chain of 20 rules
  (19 rules in order, then the drop policy; the frames pass on the 19th,
  so every rule is evaluated), the same rules, in the same order, as the
  IPFilter of bench/configs/veth-firewall.click.
* fw-afxdp, fw-afpacket: clickpy running bench/configs/veth-firewall.click
  with that device METHOD, pinned to CPU 1.
* kernel-nat: ip_forward with nftables 'masquerade' on s1 (conntrack).
* nat-afxdp, nat-afpacket: clickpy running bench/configs/veth-nat.click
  (IPRewriter with a masquerade-like pattern).
* fwd-afxdp, fwd-afpacket: FromDevice -> Queue -> ToDevice only: what
  the device backend alone carries (the ceiling for the two above).

A rate is what arrives at s0 (its rx_packets counter) over the measuring
window, after a warm-up. The ratio is to the kernel doing the same job in
this run; the target is 2.0.

Where the time goes: for each clickpy mode the share of a CPU clickpy used,
the share of the window it was runnable but waiting for a CPU (another
process on its CPU), and Mpps per CPU-second. -v adds clickpy's counters
per second (frames read, dropped by the kernel for a full receive ring,
queue drops, frames sent). Unless --no-memory, the same element chains run
in memory (InfiniteSource / FromDump of the generator's own frames into
Discard, `clickpy run -t`), cumulatively, so each element's share of the
per-packet cost shows, next to the device backend's.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from netns import Lab, control_read, is_root, wait_for  # noqa: E402

CONFIGS = Path(__file__).resolve().parent / "configs"
FAKE_MAC = "02:00:00:00:00:99"   # the next hop behind s1: frames to it are counted, then dropped
MODES = ["kernel-fw", "fw-afxdp", "fw-afpacket", "kernel-nat", "nat-afxdp", "nat-afpacket",
         "fwd-afxdp", "fwd-afpacket"]
NAT_FLOWS = 39 * 256

# The firewall's rules, nftables spelling; bench/configs/veth-firewall.click
# has the same ones in IPFilter's, in the same order.
NFT_FIREWALL = """
table ip bench {
  chain forward_filter {
    type filter hook forward priority 0; policy drop;
    ip saddr 192.168.0.0/16 drop
    ip saddr 172.16.0.0/12 drop
    ip daddr 10.2.0.99 drop
    tcp dport 23 drop
    tcp dport 25 drop
    udp dport 53 drop
    udp dport 161 drop
    udp dport 1900 drop
    ip protocol 47 drop
    icmp type redirect drop
    ip saddr 10.1.0.77 drop
    ip saddr 10.1.200.0/24 ip protocol udp drop
    ip daddr 10.2.128.0/17 drop
    tcp dport 80 accept
    tcp dport 443 accept
    ip saddr 10.1.0.0/16 tcp dport 22 accept
    icmp type echo-request accept
    udp dport 4000 accept
    ip saddr 10.1.0.0/16 udp dport 5000 accept
  }
}
"""

NFT_NAT = """
table ip bench {
  chain postrouting_nat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "s1" masquerade
  }
}
"""


def trafgen_config(dst_mac: str, src_mac: str, many_flows: bool) -> str:
    """A 60-byte UDP frame 10.1.0.2 -> 10.2.0.2:5000; with many_flows the
    source port's two bytes count through 4-42 and 0-255 independently,
    9,984 different ports (1024-11007) before the sequence repeats."""
    mac = lambda m: ", ".join(f"0x{b}" for b in m.split(":"))
    sport = "dinc(4, 42), dinc(0, 255)" if many_flows else "c16(1024)"
    return (
        "{\n"
        f"  {mac(dst_mac)},\n  {mac(src_mac)},\n  c16(0x0800),\n"
        "  0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),\n"
        "  10, 1, 0, 2,  10, 2, 0, 2,\n"
        f"  {sport}, c16(5000), c16(26), c16(0),\n"
        "  fill(0x00, 18),\n"
        "}\n"
    )


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of pid so far."""
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu, waiting = f.read().split()[:2]
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by pid and its descendants (trafgen forks a
    worker). Softirq work done in their system calls -- for the kernel
    modes, the forwarding itself -- counts as theirs."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += _cpu_seconds(p)[0]
        except OSError:
            pass
        todo.extend(children.get(p, ()))
    return total


class Topology:
    def __init__(self, lab: Lab, workdir: str):
        self.lab = lab
        self.gen = lab.namespace("gen")
        self.mid = lab.namespace("mid")
        self.sink = lab.namespace("sink")
        lab.veth(self.gen, "g0", self.mid, "g1")
        lab.veth(self.sink, "s0", self.mid, "s1")
        self.trafgen = {}
        for kind, many in (("fw", False), ("nat", True)):
            path = os.path.join(workdir, f"trafgen-{kind}.cfg")
            with open(path, "w") as f:
                f.write(trafgen_config(self.mid.mac("g1"), self.gen.mac("g0"), many))
            self.trafgen[kind] = path

    def kernel(self, rules: str | None) -> None:
        """Make mid a kernel router with the nftables rules; None undoes it."""
        mid = self.mid
        if rules is not None:
            mid.addr("g1", "10.1.0.1/24")
            mid.addr("s1", "10.2.0.1/24")
            mid.neigh("s1", "10.2.0.2", FAKE_MAC)
            mid.neigh("g1", "10.1.0.2", self.gen.mac("g0"))
            mid.sysctl("net.ipv4.ip_forward", 1)
            mid.run(["nft", "-f", "-"], input=rules, check=True)
        else:
            mid.run(["nft", "flush", "ruleset"], check=True)
            mid.sysctl("net.ipv4.ip_forward", 0)
            for ifname in ("g1", "s1"):
                mid.ipr.flush_addr(index=mid.index(ifname))
            mid.run(["conntrack", "-F"]) if _have("conntrack") else None

    def clickpy_args(self, mode: str) -> tuple[list[str], tuple[str, ...]]:
        """(clickpy run arguments, counters to read) for a clickpy mode."""
        job, method = mode.split("-")
        common = [f"METHOD={method.upper()}", "DEV_IN=g1", "DEV_OUT=s1",
                  f"SRC_MAC={self.mid.mac('s1')}", f"DST_MAC={FAKE_MAC}"]
        if job == "fw":
            return ([str(CONFIGS / "veth-firewall.click"), *common],
                    ("from.count", "from.kernel_drops", "q.drops", "to.count"))
        if job == "nat":
            return ([str(CONFIGS / "veth-nat.click"), *common, "NAT_ADDR=10.2.0.1",
                     f"IN_SRC_MAC={self.mid.mac('g1')}", f"IN_DST_MAC={self.gen.mac('g0')}"],
                    ("from.count", "from.kernel_drops", "rw.nmappings", "q.drops", "to.count"))
        cfg = (f"from :: FromDevice(g1, SNIFFER false, PROMISC true, METHOD {method.upper()}) "
               f"-> q :: Queue(1024) -> to :: ToDevice(s1, METHOD {method.upper()})")
        return (["-e", cfg], ("from.count", "from.kernel_drops", "q.drops", "to.count"))


def stop_group(lab: Lab, proc: subprocess.Popen) -> None:
    """Stop proc and every process in its session (it was started with
    start_new_session): trafgen forks its sender, which survives its
    parent's SIGTERM and would go on sending into the next mode."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    lab.stop(proc)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _have(program: str) -> bool:
    return any(os.access(os.path.join(d, program), os.X_OK) for d in os.environ.get("PATH", "").split(":"))


def _counters(ctl: str, names) -> dict:
    out = {}
    for name in names:
        try:
            v = control_read(ctl, name)
        except (OSError, RuntimeError):
            v = ""
        out[name] = int(v) if v.isdigit() else 0
    return out


def measure(topo: Topology, mode: str, seconds: float, warmup: float, workdir: str) -> dict:
    lab, gen, mid, sink = topo.lab, topo.gen, topo.mid, topo.sink
    click = ctl = None
    names: tuple[str, ...] = ()
    kind = "nat" if "nat" in mode else "fw"
    if mode.startswith("kernel-"):
        topo.kernel(NFT_FIREWALL if kind == "fw" else NFT_NAT)
    else:
        args, names = topo.clickpy_args(mode)
        ctl = os.path.join(workdir, f"{mode}.sock")
        click = mid.popen(["taskset", "-c", "1", sys.executable, "-m", "clickpy", "run", "-u", ctl, *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for(lambda: os.path.exists(ctl) or click.poll() is not None, 60) or click.poll() is not None:
            err = click.stderr.read().decode() if click.poll() is not None else "timed out"
            lab.stop(click)
            raise RuntimeError(f"{mode}: clickpy did not start: {err}")
        time.sleep(0.5)
    gen_proc = gen.popen(["taskset", "-c", "0", "trafgen", "-i", topo.trafgen[kind], "-o", "g0",
                          "--cpus", "1", "-C", "--no-sock-mem", "-Q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(warmup)
        t0 = time.monotonic()
        sent0, got0 = gen.stats("g0")["tx_packets"], sink.stats("s0")["rx_packets"]
        c0 = _counters(ctl, names) if ctl else {}
        cpu0 = _cpu_seconds(click.pid) if click else (0.0, 0.0)
        gcpu0 = _tree_cpu(gen_proc.pid)
        time.sleep(seconds)
        gcpu1 = _tree_cpu(gen_proc.pid)
        cpu1 = _cpu_seconds(click.pid) if click else (0.0, 0.0)
        c1 = _counters(ctl, names) if ctl else {}
        sent1, got1 = gen.stats("g0")["tx_packets"], sink.stats("s0")["rx_packets"]
        dt = time.monotonic() - t0
        alive = click is None or click.poll() is None
    finally:
        stop_group(lab, gen_proc)
        err = ""
        if click is not None:
            lab.stop(click)
            err = click.stderr.read().decode()[-2000:]
        if mode.startswith("kernel-"):
            topo.kernel(None)
        if ctl and os.path.exists(ctl):
            os.unlink(ctl)
    if not alive:
        raise RuntimeError(f"{mode}: clickpy exited during the run: {err}")
    return {"mode": mode, "mpps": (got1 - got0) / dt / 1e6, "offered": (sent1 - sent0) / dt / 1e6,
            "cpu": (cpu1[0] - cpu0[0]) / dt if click else None,
            "cpu_wait": (cpu1[1] - cpu0[1]) / dt if click else None,
            "counters": {k: (c1[k] - c0[k]) / dt / 1e6 for k in c1},
            "nmappings": c1.get("rw.nmappings"),
            "gen_cpu": (gcpu1 - gcpu0) / dt}


# --- in memory: the same element chains without devices ---------------------

def _config_elements(config_file: Path, first: str, last: str) -> list[str]:
    """The elements of a benchmark config's forward chain, as text: from the
    element starting with FIRST to the one starting with LAST, $variables
    filled in, names ('fw ::') dropped, so the in-memory chain is the
    config's own."""
    text = re.sub(r"//[^\n]*", "", config_file.read_text())
    for var, val in (("$SRC_MAC", "02:00:00:00:00:01"), ("$DST_MAC", FAKE_MAC), ("$NAT_ADDR", "10.2.0.1")):
        text = text.replace(var, val)
    parts, depth, cur = [], 0, ""
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and (text.startswith("->", i) or ch == ";"):
            parts.append(cur)
            cur = ""
            continue
        if depth == 0 and text.startswith("->", i - 1) and ch == ">":
            continue
        cur += ch
    parts = [re.sub(r"^\s*\w+\s*::\s*", "", re.sub(r"\s+", " ", p)).strip() for p in parts]
    parts = [re.sub(r"^\[\d+\]|\[\d+\]$", "", p).strip() for p in parts]
    i = next(k for k, p in enumerate(parts) if p.startswith(first))
    j = next(k for k, p in enumerate(parts) if k >= i and p.startswith(last))
    return parts[i:j + 1]


def _run_timed(source: str, chain: list[str], args=()) -> float:
    """Seconds the driver ran (clickpy run -t) for source -> chain -> Discard."""
    named, extra = [], []
    for k, text in enumerate(chain):
        named.append(f"e{k} :: {text}")
        if text.startswith(("Classifier", "IPClassifier", "IPRewriter")):
            extra.append(f"e{k}[1] -> Discard;")     # the second output (non-IP, other protocols, replies)
        if text.startswith("IPRewriter"):
            extra.append(f"Idle -> [1]e{k};")        # the reply input, unused in memory
    config = " -> ".join([source, *named, "Discard"]) + ";" + " ".join(extra)
    r = subprocess.run(["taskset", "-c", "1", sys.executable, "-m", "clickpy", "run", "-t", "-e", config,
                        *args], capture_output=True, text=True, timeout=600)
    m = re.search(r"(\d+(?:\.\d+)?)u\s+(\d+(?:\.\d+)?)s\s+(?:(\d+):)?(\d+(?:\.\d+)?)", r.stderr + r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"in-memory run failed: {config}\n{r.stderr}")
    return float(m.group(1)) + float(m.group(2))   # CPU seconds: robust to a busy machine


def memory_breakdown(workdir: str, topo_macs, npackets: int, out) -> None:
    """Each chain in memory, one element added at a time: Mpps per CPU-second
    and each step's cost in ns per packet."""
    gen_mac, g1_mac = topo_macs
    frame = ("".join(g1_mac.split(":")) + "".join(gen_mac.split(":")) + "0800"
             "4500002e00004000401100000a0100020a020002" "04001388001a0000" + "00" * 18)
    # fix the IP checksum of the one firewall frame
    hdr = bytes.fromhex(frame[28:68])
    s = sum(int.from_bytes(hdr[i:i + 2], "big") for i in range(0, 20, 2))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    frame = frame[:48] + f"{~s & 0xFFFF:04x}" + frame[52:]
    pcap = os.path.join(workdir, "nat-flows.pcap")
    cfg = os.path.join(workdir, "trafgen-nat-mem.cfg")
    with open(cfg, "w") as f:
        f.write(trafgen_config(g1_mac, gen_mac, True))
    subprocess.run(["trafgen", "-i", cfg, "-o", pcap, "-n", str(npackets // 4), "-q"],
                   capture_output=True, check=True, timeout=600)
    jobs = [
        ("firewall", f"InfiniteSource(DATA \\<{frame}>, LIMIT {npackets}, STOP true, BURST 32)", npackets,
         _config_elements(CONFIGS / "veth-firewall.click", "Classifier", "EtherEncap")),
        ("nat", f"FromDump({pcap}, STOP true, TIMING false)", npackets // 4,
         _config_elements(CONFIGS / "veth-nat.click", "Classifier", "IPClassifier")
         + _config_elements(CONFIGS / "veth-nat.click", "IPRewriter", "IPRewriter")
         + _config_elements(CONFIGS / "veth-nat.click", "DecIPTTL", "EtherEncap")),
    ]
    for name, source, n, elements in jobs:
        print(f"in memory, {name}: {n} packets, cumulative (Mpps per CPU-second, ns/packet of each step)",
              file=out, flush=True)
        base = _run_timed(source, [], ())
        print(f"  {'source -> Discard':60s} {n / base / 1e6:7.2f} Mpps  {base / n * 1e9:7.0f} ns", file=out,
              flush=True)
        prev = base
        for k in range(1, len(elements) + 1):
            t = _run_timed(source, elements[:k], ())
            step = elements[k - 1]
            print(f"  + {step[:58]:58s} {n / t / 1e6:7.2f} Mpps  {(t - prev) / n * 1e9:+7.0f} ns", file=out,
                  flush=True)
            prev = t
        print(f"  elements alone (without the source): {(prev - base) / n * 1e9:.0f} ns/packet = "
              f"{n / max(prev - base, 1e-9) / 1e6:.2f} Mpps per CPU", file=out, flush=True)


def run(modes, seconds=5.0, warmup=1.5, out=sys.stdout, verbose=False, memory=True,
        mem_packets=4_000_000) -> list[dict]:
    if not is_root():
        raise SystemExit("firewall_nat_vs_kernel: needs root (network namespaces)")
    for program in ("trafgen", "nft", "taskset"):
        if not _have(program):
            raise SystemExit(f"firewall_nat_vs_kernel: needs {program} (apt-get install "
                             f"{ {'trafgen': 'netsniff-ng', 'nft': 'nftables'}.get(program, 'util-linux') })")
    results = {}
    with tempfile.TemporaryDirectory(prefix="clickpy-fwnat-") as workdir, Lab() as lab:
        topo = Topology(lab, workdir)
        print(f"veth path gen -> mid -> sink, 64-byte UDP frames, {seconds:g} s per mode after "
              f"{warmup:g} s warm-up; trafgen on CPU 0, clickpy on CPU 1", file=out, flush=True)
        ordered = [m for m in MODES if m in modes]
        for mode in ordered:
            try:
                r = measure(topo, mode, seconds, warmup, workdir)
            except RuntimeError as e:
                print(f"{mode:14s} FAILED: {e}", file=out, flush=True)
                continue
            results[mode] = r
            job = "nat" if "nat" in mode else "fw"
            base = results.get(f"kernel-{job}")
            ratio = (f"{r['mpps'] / base['mpps']:5.2f}x kernel-{job}"
                     if base and mode.split("-")[0] in ("fw", "nat") and base["mpps"] > 0 else "")
            gen = f"  trafgen CPU {r['gen_cpu']:4.0%}"
            cpu = ""
            if r["cpu"]:
                r["cost_ns"] = r["cpu"] / max(r["mpps"], 1e-9) * 1e3
                cpu = (f"  clickpy CPU {r['cpu']:4.0%} (waiting {r['cpu_wait']:4.0%}): "
                       f"{r['cost_ns']:.0f} ns/frame")
            flows = f"  mappings {r['nmappings']}" if r.get("nmappings") else ""
            print(f"{mode:14s} {r['mpps']:7.3f} Mpps  (offered {r['offered']:.3f})  {ratio:18s}{gen}{cpu}{flows}",
                  file=out, flush=True)
            if verbose and r["counters"]:
                print("               " + "  ".join(f"{k} {v:.3f}" for k, v in r["counters"].items()
                                                     if k != "rw.nmappings") + "  (Mpps)", file=out, flush=True)
        print("\nsummary (target: 2.00x the kernel). clickpy's 'per CPU' = 1000 / (ns of its own CPU time\n"
              "per forwarded frame): what one free core would carry, a lower bound (its CPU time includes\n"
              "empty polls). The kernel forwards in the generator's context (veth transmit runs the\n"
              "receive softirq inline), so its rate is bounded by trafgen's share of CPU 0.", file=out)
        for job, label in (("fw", "firewall, 20 rules"), ("nat", "NAT, masquerade  ")):
            base = results.get(f"kernel-{job}")
            if base:
                print(f"  {label}  kernel/nftables   {base['mpps']:.3f} Mpps", file=out)
            for method in ("afxdp", "afpacket"):
                r = results.get(f"{job}-{method}")
                if r:
                    ratio = f"{r['mpps'] / base['mpps']:.2f}x" if base and base["mpps"] else "-"
                    cap = 1e3 / r["cost_ns"] if r.get("cost_ns") else None
                    print(f"  {label}  clickpy {method:9s} {r['mpps']:.3f} Mpps {ratio:>6s}"
                          + (f"   per CPU {cap:6.3f} Mpps" if cap else ""), file=out)
        out.flush()
        if memory:
            print("", file=out)
            memory_breakdown(workdir, (topo.gen.mac("g0"), topo.mid.mac("g1")), mem_packets, out)
    return list(results.values())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measuring window per mode")
    p.add_argument("--warmup", type=float, default=1.5)
    p.add_argument("--only", nargs="*", choices=MODES, help="modes to run")
    p.add_argument("--no-memory", action="store_true", help="skip the in-memory breakdown")
    p.add_argument("--mem-packets", type=int, default=4_000_000)
    p.add_argument("-v", "--verbose", action="store_true", help="also print clickpy's counters per second")
    ns = p.parse_args(argv)
    run(ns.only or MODES, ns.seconds, ns.warmup, verbose=ns.verbose, memory=not ns.no_memory,
        mem_packets=ns.mem_packets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
