"""Network namespaces: enter one, configure it, run programs inside it.

What ``clickpy lab`` (clickpy/lab.py) and the tests (tests/netns.py) share.
Configuration goes through pyroute2 (``NetNS`` for links, addresses and
routes; ``Ethtool`` for offloads); a program runs inside a namespace by
entering it between fork and exec. Nothing here touches the host's own
namespace except to enter and leave the named ones.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

NETNS_DIR = "/run/netns"


def enter(name: str) -> None:
    """Move the calling thread into network namespace NAME (never creates one)."""
    from pyroute2 import netns

    netns.setns(name, flags=0)


@contextmanager
def inside(name: str):
    """Run the block in namespace NAME, then come back."""
    from pyroute2 import netns

    netns.pushns(name)
    try:
        yield
    finally:
        netns.popns()


def sysctl(name: str, key: str, value) -> None:
    """Set a per-namespace sysctl (net.*) in namespace NAME."""
    with inside(name):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))


def no_offloads(name: str, ifname: str) -> None:
    """Turn off ifname's transmit checksum and segmentation offloads (and GRO).

    A host that sends through a veth to a user-space forwarder need not (the
    forwarder finishes partial checksums and has the kernel segment), but a
    test that wants plain frames on the wire can ask for them."""
    from pyroute2.ethtool import Ethtool

    with inside(name):
        e = Ethtool()
        try:
            f = e.get_features(ifname)
            for feature_name, feature in f.features.items():
                if feature.available and (feature_name.startswith("tx-checksum")
                                          or feature_name.endswith("segmentation")
                                          or feature_name in ("tx-scatter-gather", "rx-gro")):
                    feature.enable = False
            e.set_features(ifname, f)
        finally:
            e.close()


class Namespace:
    """One existing network namespace: configure it and run programs in it."""

    def __init__(self, name: str):
        from pyroute2 import NetNS

        self.name = name
        self.path = os.path.join(NETNS_DIR, name)
        self.ipr = NetNS(name)

    # --- configuration ------------------------------------------------------

    def index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise LookupError(f"{self.name}: no interface {ifname}")
        return found[0]

    def link_up(self, ifname: str) -> None:
        self.ipr.link("set", index=self.index(ifname), state="up")

    def link_down(self, ifname: str) -> None:
        self.ipr.link("set", index=self.index(ifname), state="down")

    def link_delete(self, ifname: str) -> None:
        self.ipr.link("del", index=self.index(ifname))

    def addr(self, ifname: str, cidr: str) -> None:
        address, prefixlen = cidr.split("/")
        self.ipr.addr("add", index=self.index(ifname), address=address, prefixlen=int(prefixlen))

    def route(self, dst: str, gateway: str) -> None:
        self.ipr.route("add", dst=dst, gateway=gateway)

    def neigh(self, ifname: str, ip: str, mac: str) -> None:
        self.ipr.neigh("add", dst=ip, lladdr=mac, ifindex=self.index(ifname), state=0x80)  # permanent

    def mac(self, ifname: str) -> str:
        return self.ipr.get_links(self.index(ifname))[0].get("IFLA_ADDRESS")

    def set_mac(self, ifname: str, mac: str) -> None:
        self.ipr.link("set", index=self.index(ifname), address=mac)

    def stats(self, ifname: str) -> dict:
        """The interface's counters (rx_packets, tx_packets, rx_dropped, ...)."""
        link = self.ipr.get_links(self.index(ifname))[0]
        st = link.get("IFLA_STATS64") or link.get("IFLA_STATS")
        return {k: st.get(k) for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
                                       "rx_dropped", "tx_dropped")}

    def sysctl(self, key: str, value) -> None:
        sysctl(self.name, key, value)

    def no_offloads(self, ifname: str) -> None:
        no_offloads(self.name, ifname)

    # --- programs -------------------------------------------------------------

    def popen(self, argv, **kwargs) -> subprocess.Popen:
        name = self.name
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(argv, preexec_fn=lambda: enter(name), **kwargs)

    def run(self, argv, *, check=False, timeout=60, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        if "input" not in kwargs:
            kwargs["stdin"] = subprocess.DEVNULL
        name = self.name
        r = subprocess.run(argv, preexec_fn=lambda: enter(name), timeout=timeout, **kwargs)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(map(str, argv))} failed ({r.returncode}): "
                               f"{r.stderr or ''}{r.stdout or ''}")
        return r

    def python(self, code: str, *args, timeout=60, **kwargs) -> subprocess.CompletedProcess:
        """Run a Python snippet inside the namespace."""
        return self.run([sys.executable, "-c", code, *map(str, args)], timeout=timeout, **kwargs)

    def close(self) -> None:
        try:
            self.ipr.close()
        except Exception:
            pass


def veth(ns1: Namespace, name1: str, ns2: Namespace, name2: str, *, up=True, **kwargs) -> None:
    """A veth pair with one end in each namespace (created inside ns1).

    Extra keyword arguments go to both ends (e.g. address=..., numrxqueues=2)."""
    peer = {"ifname": name2, "net_ns_fd": ns2.name, **kwargs.pop("peer", {})}
    ns1.ipr.link("add", ifname=name1, kind="veth", peer={**kwargs, **peer}, **kwargs)
    if up:
        ns1.link_up(name1)
        ns2.link_up(name2)


def processes_in(name: str) -> list[int]:
    """PIDs of the processes living in network namespace NAME (but this one)."""
    try:
        st = os.stat(os.path.join(NETNS_DIR, name))
    except FileNotFoundError:
        return []
    want = f"net:[{st.st_ino}]"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isascii() and entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.readlink(f"/proc/{entry}/ns/net") == want:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def kill(pid: int, sig: int) -> None:
    """Signal pid if it still runs, and reap it if it is our child."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    reap(pid)


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
