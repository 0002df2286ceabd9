"""``clickpy switch``: run the software switch that starts guests per tenant or per flow.

    clickpy switch POLICY --port DEV [--port DEV ...] [-u PATH] [-p PORT] [--pool N] [--no-setup] [-w]
    clickpy switch check POLICY
    clickpy switch status TARGET [--watch SECONDS] [--element NAME]

The switch's data path is a Click configuration: FromDevice on each host
port, a GuestSwitch element (``sw``) that sends each tenant's or flow's
traffic through its guest, and a Queue and ToDevice back out of the same
port. ``--print-config`` shows it; ``--config FILE`` runs your own instead
(any configuration with a GuestSwitch). The host ports are set up and
restored as ``clickpy deploy`` does. Guests are forked from a zygote started
before any port is opened.

``status`` prints the guest table of a running switch (its ControlSocket,
``-u``/``-p``): each guest's tenant, key, state, packets, drops, memory and
uptime; ``--watch`` refreshes it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clickpy switch", description=__doc__.split("\n\n")[0])
    p.add_argument("policy", metavar="POLICY", help="the policy file (TOML; see clickpy.switch.policy)")
    p.add_argument("--port", action="append", default=[], metavar="DEV",
                   help="a host port (repeat, in the order the guests' images name their devices)")
    p.add_argument("--config", metavar="FILE", help="run this switch configuration instead of the generated one")
    p.add_argument("--print-config", action="store_true", help="print the generated configuration and exit")
    p.add_argument("--pool", type=int, default=2, help="ready sandboxes to keep (default 2)")
    p.add_argument("--warm", type=int, default=0,
                   help="guests of each tenant's image to keep running, waiting for a key (default 0)")
    p.add_argument("-u", "--unix-socket", action="append", default=[], help="ControlSocket on a Unix socket")
    p.add_argument("-p", "--control-port", action="append", default=[], help="ControlSocket on a TCP port")
    p.add_argument("--no-setup", action="store_true", help="leave the host ports as they are")
    p.add_argument("-w", "--no-warnings", action="store_true")
    return p


def switch_config(policy: str, ports: list[str], pool: int, warm: int = 0) -> str:
    """The switch's data path in Click's language."""
    lines = [f"// clickpy switch {policy}",
             f"sw :: GuestSwitch(POLICY \"{os.path.abspath(policy)}\", POOL {pool}, WARM {warm});"]
    for i, dev in enumerate(ports):
        lines.append(f"FromDevice({dev}, SNIFFER false, PROMISC true) -> [{i}]sw[{i}] -> Queue(1024) "
                     f"-> ToDevice({dev});")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv and argv[0] == "status":
        return status_main(argv[1:])
    if argv and argv[0] == "check":
        return check_main(argv[1:])
    ns = build_parser().parse_args(argv)
    if ns.config is None and not ns.port:
        print("clickpy switch: give the host ports (--port DEV, once per port) or --config FILE",
              file=sys.stderr)
        return 1
    if ns.config is None:
        text = switch_config(ns.policy, ns.port, ns.pool, ns.warm)
        if ns.print_config:
            sys.stdout.write(text)
            return 0
        args = ["-e", text]
    else:
        args = [ns.config]
    from clickpy.guest.zygote import Zygote

    # Before any host port is open, so no guest ever inherits one.
    Zygote.shared()
    from clickpy.cli import deploy

    for u in ns.unix_socket:
        args += ["-u", u]
    for p in ns.control_port:
        args += ["-p", p]
    if ns.no_setup:
        args.append("--no-setup")
    if ns.no_warnings:
        args.append("-w")
    return deploy.main(args)


def check_main(argv: list[str]) -> int:
    from clickpy.switch.policy import PolicyError, load_policy

    p = argparse.ArgumentParser(prog="clickpy switch check")
    p.add_argument("policy", metavar="POLICY")
    ns = p.parse_args(argv)
    try:
        policy = load_policy(ns.policy)
    except PolicyError as e:
        print(str(e), file=sys.stderr)
        return 1
    except OSError as e:
        print(f"clickpy switch: {ns.policy}: {e.strerror}", file=sys.stderr)
        return 1
    sys.stdout.write(policy.describe())
    return 0


def status_main(argv: list[str]) -> int:
    from clickpy.control.client import ControlClient, ControlError

    p = argparse.ArgumentParser(prog="clickpy switch status")
    p.add_argument("target", metavar="TARGET", help="the switch's ControlSocket: a Unix socket path or a port")
    p.add_argument("--element", default="sw", help="the GuestSwitch element's name (default sw)")
    p.add_argument("--watch", type=float, metavar="SECONDS", help="print the table again every SECONDS")
    ns = p.parse_args(argv)
    try:
        with ControlClient(ns.target, timeout=10) as c:
            while True:
                table = c.read(f"{ns.element}.guests")
                reasons = c.read(f"{ns.element}.drop_reasons")
                if ns.watch and sys.stdout.isatty():
                    sys.stdout.write("\x1b[H\x1b[2J")
                sys.stdout.write(table)
                dropped = ", ".join(f"{k} {v}" for k, v in (line.split() for line in reasons.splitlines())
                                    if v != "0")
                sys.stdout.write(f"switch drops: {dropped or 'none'}\n")
                sys.stdout.flush()
                if not ns.watch:
                    return 0
                time.sleep(ns.watch)
                if not sys.stdout.isatty():
                    sys.stdout.write("\n")
    except (OSError, ControlError) as e:
        print(f"clickpy switch status: {ns.target}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
