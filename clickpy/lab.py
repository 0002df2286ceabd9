"""A client - middlebox - server lab in network namespaces, for trying configurations.

Three namespaces joined by two veth pairs; the middlebox runs a configuration
with ``clickpy deploy`` and owns its addresses (the kernel in the middlebox
namespace has none, so it neither answers ARP nor forwards):

    client                        middlebox                         server
    eth0 10.0.1.2  ==veth==  to-client   to-server  ==veth==  eth0 10.0.2.2
    gw 10.0.1.1              (10.0.1.1)  (10.0.2.1)                 10.0.2.3
                                                              gw 10.0.2.1

The addresses in brackets are the configuration's to answer for. The server
has two addresses so that two servers can listen (a load balancer's
backends). The namespaces are linked only to each other: none has a route
or a link to the host's own network. IPv6 is off in all three, and the
client's and server's transmit offloads are off (a forwarder that reads
frames must see real checksums and MTU-sized segments).

What ``up`` made is recorded in a JSON state file (``/run/clickpy-lab/NAME.json``)
so that ``down`` removes exactly that: the middlebox process, by its PID
(SIGTERM, so that it restores its interfaces), the processes still running
inside the lab's namespaces (started with ``exec``), and the namespaces.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from clickpy import netns as ns_tools

STATE_DIR = os.environ.get("CLICKPY_LAB_DIR", "/run/clickpy-lab")
ROLES = ("client", "middlebox", "server")

# Addresses and names, also handed to the configuration as NAME=value.
PLAN = {
    "CLIENT_DEV": "to-client", "SERVER_DEV": "to-server",
    "CLIENT_IP": "10.0.1.1", "SERVER_IP": "10.0.2.1",
    "CLIENT_NET": "10.0.1.0/24", "SERVER_NET": "10.0.2.0/24",
    "CLIENT_MAC": "02:00:0a:00:01:01", "SERVER_MAC": "02:00:0a:00:02:01",
    "CLIENT_HOST": "10.0.1.2", "SERVER_HOST": "10.0.2.2", "SERVER_HOST2": "10.0.2.3",
}
HOST_MACS = {"client": "02:00:0a:00:01:02", "server": "02:00:0a:00:02:02"}

class LabError(Exception):
    """A lab operation failed for a reason worth one line to the user."""


class Lab:
    def __init__(self, name: str = "clickpy", state_dir: str | None = None):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", name):
            raise LabError(f"'{name}' cannot name a lab (letters, digits, '_', '.', '-'; up to 31)")
        self.name = name
        self.dir = Path(state_dir or STATE_DIR)
        self.state_file = self.dir / f"{name}.json"
        self.log_file = self.dir / f"{name}-middlebox.log"
        self.control = self.dir / f"{name}.ctl"

    def netns(self, role: str) -> str:
        if role not in ROLES:
            raise LabError(f"no '{role}' in the lab (choose {', '.join(ROLES)})")
        return f"{self.name}-{role}"

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None

    def _save(self, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    # --- up -------------------------------------------------------------------

    def up(self, config: str | None = None, definitions: dict[str, str] | None = None,
           timeout: float = 30.0, run_args: list[str] = ()) -> dict:
        """Build the lab; run config in the middlebox (run_args: more of
        'clickpy deploy''s flags, such as -p PORT, -u PATH, -R)."""
        from pyroute2 import netns

        if self.state() is not None:
            raise LabError(f"lab '{self.name}' is already up (clickpy lab down, first)")
        if config is not None and not os.path.exists(config):
            raise LabError(f"{config}: no such file")
        state = {"name": self.name, "namespaces": [], "pid": None, "config": None,
                 "defines": {}, "control": str(self.control), "log": str(self.log_file)}
        self._save(state)
        try:
            for role in ROLES:
                netns.create(self.netns(role))
                state["namespaces"].append(self.netns(role))
                self._save(state)
            self._wire()
            if config is not None:
                self._start(state, config, definitions or {}, timeout, list(run_args))
        except BaseException:
            self.down(quiet=True)
            raise
        return state

    def _wire(self) -> None:
        spaces = {role: ns_tools.Namespace(self.netns(role)) for role in ROLES}
        try:
            mb = spaces["middlebox"]
            for side in ("client", "server"):
                ns_tools.veth(mb, PLAN[f"{side.upper()}_DEV"], spaces[side], "eth0", up=False,
                              address=PLAN[f"{side.upper()}_MAC"], peer={"address": HOST_MACS[side]})
            for role, space in spaces.items():
                for ifname in ("lo", "eth0") if role != "middlebox" else ("lo",):
                    space.link_up(ifname)
            for side, hosts in (("client", ["CLIENT_HOST"]), ("server", ["SERVER_HOST", "SERVER_HOST2"])):
                for h in hosts:
                    spaces[side].addr("eth0", f"{PLAN[h]}/24")
                spaces[side].route("default", PLAN[f"{side.upper()}_IP"])
        finally:
            for space in spaces.values():
                space.close()
        for role in ROLES:
            name = self.netns(role)
            for key in ("all", "default", "lo"):
                ns_tools.sysctl(name, f"net.ipv6.conf.{key}.disable_ipv6", 1)
            if role != "middlebox":
                ns_tools.sysctl(name, "net.ipv6.conf.eth0.disable_ipv6", 1)
                ns_tools.no_offloads(name, "eth0")

    def _start(self, state: dict, config: str, definitions: dict[str, str], timeout: float,
               run_args: list[str]) -> None:
        defines = dict(PLAN)
        defines.update(definitions)
        argv = [sys.executable, "-m", "clickpy", "deploy", os.path.abspath(config),
                "-u", str(self.control), *run_args, *(f"{k}={v}" for k, v in defines.items())]
        if self.control.exists():
            self.control.unlink()
        mbns = self.netns("middlebox")
        with open(self.log_file, "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    preexec_fn=lambda: ns_tools.enter(mbns),
                                    start_new_session=True)
        state.update(pid=proc.pid, config=os.path.abspath(config), defines=defines,
                     argv=argv)
        self._save(state)
        deadline = time.monotonic() + timeout
        while not self.control.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = self.log_file.read_text(errors="replace").strip()
                raise LabError(f"the middlebox did not start ({config}):\n{log_text}")
            time.sleep(0.05)

    # --- down ------------------------------------------------------------------

    def down(self, quiet: bool = False) -> list[str]:
        """Stop the middlebox and remove the namespaces; what was removed, in words."""
        from pyroute2 import netns

        state = self.state()
        if state is None:
            if quiet:
                return []
            raise LabError(f"lab '{self.name}' is not up")
        done = []
        pid = state.get("pid")
        if pid and _is_ours(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _is_ours(pid) and time.monotonic() < deadline:
                ns_tools.reap(pid)
                time.sleep(0.05)
            if _is_ours(pid):
                os.kill(pid, signal.SIGKILL)
            ns_tools.reap(pid)
            done.append(f"stopped the middlebox (pid {pid})")
        for name in reversed(state.get("namespaces", [])):
            others = ns_tools.processes_in(name)
            for p in others:
                ns_tools.kill(p, signal.SIGTERM)
            if others:
                time.sleep(0.2)
                for p in ns_tools.processes_in(name):
                    ns_tools.kill(p, signal.SIGKILL)
                done.append(f"stopped {len(others)} process{'es' if len(others) > 1 else ''} "
                            f"in {name} ({' '.join(map(str, others))})")
            try:
                netns.remove(name)
                done.append(f"removed namespace {name}")
            except OSError:
                pass
        for p in (self.control, self.log_file, self.state_file):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        return done

    # --- programs ----------------------------------------------------------------

    def popen(self, role: str, argv, **kwargs) -> subprocess.Popen:
        name = self.netns(role)
        if not os.path.exists(f"/run/netns/{name}"):
            raise LabError(f"lab '{self.name}' is not up (clickpy lab up)")
        return subprocess.Popen(argv, preexec_fn=lambda: ns_tools.enter(name), **kwargs)

    def exec(self, role: str, argv) -> None:
        """Replace this process with argv, run inside role's namespace."""
        name = self.netns(role)
        if not os.path.exists(f"/run/netns/{name}"):
            raise LabError(f"lab '{self.name}' is not up (clickpy lab up)")
        ns_tools.enter(name)
        os.execvp(argv[0], argv)

    def read(self, handler: str, timeout: float = 5.0) -> str:
        """A middlebox handler's value, through its ControlSocket (Click's protocol)."""
        from clickpy.control.client import ControlClient, ControlError

        try:
            client = ControlClient(str(self.control), timeout=timeout)
        except OSError:
            raise LabError(f"no middlebox answers at {self.control}") from None
        with client:
            try:
                return client.read(handler)
            except ControlError as e:
                raise LabError(f"{handler}: {' '.join(e.lines)}") from None

    def middlebox_running(self) -> bool:
        state = self.state() or {}
        return bool(state.get("pid")) and _is_ours(state["pid"])


def _is_ours(pid: int) -> bool:
    """pid runs, and is a clickpy (not some later process that reused the number)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"clickpy" in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z"
