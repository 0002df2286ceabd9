"""``clickpy deploy``: run a configuration on this host's network interfaces.

    clickpy deploy CONFIG [NAME=value]... [-u PATH] [-p PORT] [-h ELEMENT.HANDLER]...
                   [--no-setup] [--per-packet] [-w]

The interfaces are the ones the configuration names: those every device
element of the elaborated (flat) configuration opens (FromDevice and
ToDevice say which, from their arguments), with the ``NAME=value``
parameters applied. Before the router starts, each is
prepared for a forwarder that reads and writes whole frames:

- the link is brought up;
- promiscuous mode is turned on (frames for other Ethernet addresses pass);
- the offloads that would hand the router super-sized frames are turned
  off: GRO and LRO on receive, GSO and TSO (and their variants) on transmit.

Then the router runs (as ``clickpy run`` would, with the same ControlSocket
and handler flags) until SIGINT or SIGTERM, or until the configuration
stops itself. Afterwards every setting deploy changed is put back as it
was, and nothing else: an interface that was already up stays up, an offload
that was already off stays off. What was set up and what was restored is
printed on standard error.
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from clickpy import pipeline
from clickpy.cli import source as config_source
from clickpy.lang.confstring import split_args

# Offloads that make the kernel hand a packet socket frames larger than the
# MTU (receive coalescing) or accept them from one (segmentation on send).
OFFLOADS = ("rx-gro", "rx-lro", "rx-gro-hw", "rx-gro-list", "rx-udp-gro-forwarding",
            "tx-generic-segmentation", "tx-tcp-segmentation", "tx-tcp6-segmentation",
            "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation", "tx-udp-segmentation")

IFF_UP = 0x1
IFF_PROMISC = 0x100


class DeployError(Exception):
    """Something the user can fix (no such interface, not permitted, ...)."""


def device_names(graph) -> list[str]:
    """The interfaces a flat graph's device elements name, in order, once each.

    Each element class that opens host interfaces says which ones its
    configuration names (its ``host_devices``), parsing it its own way.
    """
    from clickpy.runtime import registry

    names: list[str] = []
    for e in graph.elements:
        host_devices = getattr(registry.lookup(e.class_name), "host_devices", None)
        if host_devices is None:
            continue
        for name in host_devices(split_args(e.config)):
            if name not in names:
                names.append(name)
    return names


class Interfaces:
    """Prepares interfaces for a forwarder and remembers exactly what it changed."""

    def __init__(self, log=None):
        from pyroute2 import IPRoute
        from pyroute2.ethtool import Ethtool

        self.ipr = IPRoute()
        self.ethtool = Ethtool()
        self.log = log or (lambda msg: print(f"clickpy deploy: {msg}", file=sys.stderr, flush=True))
        # ifname -> {"up": bool, "promisc": bool, "offloads": [names]}: what was changed
        self.changed: dict[str, dict] = {}

    def close(self) -> None:
        for obj in (self.ipr, self.ethtool):
            try:
                obj.close()
            except Exception:
                pass

    def _index(self, ifname: str) -> int:
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise DeployError(f"no interface named '{ifname}' here "
                              f"(see 'ip link'; interfaces are per network namespace)")
        return found[0]

    def prepare(self, ifname: str) -> None:
        index = self._index(ifname)
        flags = self.ipr.get_links(index)[0]["flags"]
        change = {"up": False, "promisc": False, "offloads": []}
        self.changed[ifname] = change
        offload_problem = None
        try:
            features = self.ethtool.get_features(ifname)
            on = [n for n in OFFLOADS if n in features.features
                  and features.features[n].enable and features.features[n].available]
            if on:
                for n in on:
                    features.features[n].enable = False
                try:
                    self.ethtool.set_features(ifname, features)
                except OSError as e:
                    # Some drivers refuse a feature; the link still works,
                    # so this is worth a warning, not a refusal to run.
                    offload_problem = e.strerror or str(e)
                after = self.ethtool.get_features(ifname).features
                change["offloads"] = [n for n in on if not after[n].enable]
                still = [n for n in on if after[n].enable]
                if still:
                    self.log(f"{ifname}: warning: could not turn off {' '.join(still)}"
                             + (f" ({offload_problem})" if offload_problem else "")
                             + "; the router may see frames larger than the MTU")
        except OSError as e:
            self.log(f"{ifname}: warning: cannot read its offloads ({e.strerror or e}); left as they are")
        try:
            if not flags & IFF_PROMISC:
                self.ipr.link("set", index=index, flags=IFF_PROMISC, change=IFF_PROMISC)
                change["promisc"] = True
            if not flags & IFF_UP:
                self.ipr.link("set", index=index, state="up")
                change["up"] = True
        except OSError as e:
            raise DeployError(f"{ifname}: cannot configure: {e.strerror or e}") from None
        did = []
        did.append("link up" if change["up"] else "link already up")
        did.append("promiscuous on" if change["promisc"] else "already promiscuous")
        did.append("offloads off: " + " ".join(change["offloads"]) if change["offloads"]
                   else "no segmentation/coalescing offloads on")
        self.log(f"{ifname}: " + ", ".join(did))

    def restore(self) -> bool:
        """Undo every change, latest interface first; False if something could not be undone."""
        ok = True
        for ifname, change in reversed(list(self.changed.items())):
            did = []
            try:
                index = self._index(ifname)
                if change["offloads"]:
                    features = self.ethtool.get_features(ifname)
                    for n in change["offloads"]:
                        features.features[n].enable = True
                    self.ethtool.set_features(ifname, features)
                    did.append("offloads on: " + " ".join(change["offloads"]))
                if change["promisc"]:
                    self.ipr.link("set", index=index, flags=0, change=IFF_PROMISC)
                    did.append("promiscuous off")
                if change["up"]:
                    self.ipr.link("set", index=index, state="down")
                    did.append("link down")
            except (OSError, DeployError) as e:
                self.log(f"{ifname}: could not restore: {getattr(e, 'strerror', None) or e}")
                ok = False
                continue
            self.log(f"{ifname}: restored: " + (", ".join(did) if did else "nothing was changed"))
        self.changed.clear()
        return ok


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clickpy deploy", add_help=False,
                                description="Run a configuration on this host's network interfaces, "
                                            "set up for it and restored afterwards.")
    config_source.add_arguments(p)
    p.add_argument("-h", "--handler", action="append", default=[], metavar="ELEMENT.HANDLER",
                   help="print a read handler's value after the run (globs allowed)")
    p.add_argument("-p", "--port", action="append", default=[], help="ControlSocket on a TCP port")
    p.add_argument("-u", "--unix-socket", action="append", default=[], help="ControlSocket on a Unix socket")
    p.add_argument("-R", "--allow-reconfigure", action="store_true",
                   help="allow reloads while running: clickpy reload CONTROL CONFIG (or Click's write hotconfig)")
    p.add_argument("-w", "--no-warnings", action="store_true")
    p.add_argument("--per-packet", action="store_true",
                   help="move packets one at a time (exact Click ordering for batching sources)")
    p.add_argument("--no-setup", action="store_true",
                   help="leave the interfaces as they are (only run the configuration)")
    p.add_argument("--help", action="help")
    return p


class _Interrupted(Exception):
    pass


def main(argv: list[str]) -> int:
    from clickpy.cli import run

    ns = build_parser().parse_intermixed_args(argv)
    try:
        # Not standard input: a deployed router runs as a service.
        source, defs = config_source.from_arguments(ns, stdin=False)
    except config_source.SourceError as e:
        print(f"clickpy deploy: {e}", file=sys.stderr)
        return 1
    result = pipeline.load(source, defs)
    if not result.ok:
        print(result.diagnostics.format(), file=sys.stderr)
        return 1
    names = device_names(result.graph)

    driver = run.Driver(ns, defs)

    def on_signal(signum, frame):
        # Running or being built: stop the router (as soon as it starts, so
        # that no exception lands inside an element's initialize). Before
        # that, stop setting up; after it, let the restoring finish.
        if driver.request_stop() == "idle":
            raise _Interrupted()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    interfaces = None
    status = 1
    try:
        if names and not ns.no_setup:
            try:
                interfaces = Interfaces()
                for name in names:
                    interfaces.prepare(name)
            except DeployError as e:
                print(f"clickpy deploy: {e}", file=sys.stderr)
                return 1
            except ImportError:
                print("clickpy deploy: needs pyroute2 to set up interfaces (or use --no-setup)",
                      file=sys.stderr)
                return 1
            except Exception as e:
                # pyroute2 reports kernel refusals as NetlinkError (not an
                # OSError), with the errno in .code.
                code = getattr(e, "code", None) or getattr(e, "errno", None)
                if isinstance(e, PermissionError) or code in (errno.EPERM, errno.EACCES):
                    print("clickpy deploy: not permitted to configure interfaces: run as root (or with "
                          "CAP_NET_ADMIN), or use --no-setup", file=sys.stderr)
                    return 1
                if code is None:
                    raise
                print(f"clickpy deploy: cannot set up the interfaces: {os.strerror(code)}", file=sys.stderr)
                return 1
        elif not names:
            print("clickpy deploy: the configuration names no devices; nothing to set up",
                  file=sys.stderr, flush=True)
        print(f"clickpy deploy: running {source.filename} (pid {os.getpid()}); "
              f"SIGINT or SIGTERM stops it", file=sys.stderr, flush=True)
        status = driver.run(source)
    except _Interrupted:
        print("clickpy deploy: interrupted before the router ran", file=sys.stderr)
        status = 1
    finally:
        if interfaces is not None:
            if not interfaces.restore():
                status = status or 1
            interfaces.close()
        for sig, h in previous.items():
            signal.signal(sig, h)
    return status
