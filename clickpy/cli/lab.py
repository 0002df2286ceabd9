"""``clickpy lab``: a client - middlebox - server lab in network namespaces.

    clickpy lab up [CONFIG [NAME=value]...]   build the lab; run CONFIG as the middlebox
    clickpy lab exec client|server|middlebox CMD [ARG]...
    clickpy lab read ELEMENT.HANDLER...
    clickpy lab status
    clickpy lab down

See clickpy/lab.py for the topology. ``--name`` keeps several labs apart.
"""
from __future__ import annotations

import argparse
import os
import sys

from clickpy.cli import source as config_source
from clickpy.lab import PLAN, ROLES, Lab, LabError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clickpy lab", description="A client - middlebox - server lab "
                                "in network namespaces, with a configuration as the middlebox.")
    p.add_argument("--name", default="clickpy", help="lab name, the namespaces' prefix (default clickpy)")
    p.add_argument("--state-dir", help="where the state file goes (default /run/clickpy-lab)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="build the lab and run CONFIG in the middlebox")
    up.add_argument("args", nargs="*", metavar="CONFIG|NAME=value")
    up.add_argument("-p", "--port", action="append", default=[],
                    help="also a ControlSocket on this TCP port (inside the middlebox's namespace)")
    up.add_argument("-u", "--unix-socket", action="append", default=[], help="also a ControlSocket at this path")
    up.add_argument("-R", "--allow-reconfigure", action="store_true",
                    help="allow reloads: clickpy reload CONTROL CONFIG (or Click's write hotconfig)")
    ex = sub.add_parser("exec", help="run a command in the client, server or middlebox namespace")
    ex.add_argument("role", choices=ROLES)
    ex.add_argument("command", nargs=argparse.REMAINDER)
    rd = sub.add_parser("read", help="print a middlebox handler's value (ELEMENT.HANDLER)")
    rd.add_argument("handler", nargs="+")
    sub.add_parser("status", help="what is up, and what to try")
    sub.add_parser("down", help="stop the middlebox and remove the namespaces")
    return p


def _topology() -> str:
    p = PLAN
    return (f"  client  eth0 {p['CLIENT_HOST']}/24 (gw {p['CLIENT_IP']})\n"
            f"     |\n"
            f"  middlebox  {p['CLIENT_DEV']} [{p['CLIENT_IP']} {p['CLIENT_MAC']}]   "
            f"{p['SERVER_DEV']} [{p['SERVER_IP']} {p['SERVER_MAC']}]\n"
            f"     |\n"
            f"  server  eth0 {p['SERVER_HOST']}/24 and {p['SERVER_HOST2']}/24 (gw {p['SERVER_IP']})\n")


def _hints(lab: Lab) -> str:
    opt = "" if lab.name == "clickpy" else f" --name {lab.name}"
    c = f"clickpy lab{opt} exec"
    return ("Try:\n"
            f"  {c} server python3 -m http.server 8000 --bind {PLAN['SERVER_HOST']} &\n"
            f"  {c} client curl -s http://{PLAN['SERVER_HOST']}:8000/ | head\n"
            f"  {c} client ping -c 3 {PLAN['SERVER_HOST']}     (if ping is installed)\n"
            f"  clickpy lab{opt} read ELEMENT.HANDLER      (a middlebox handler, e.g. c.count)\n"
            f"  clickpy lab{opt} status;  clickpy lab{opt} down\n")


def _config_hints(config: str, lab: Lab) -> str:
    """The 'Try it' lines of a configuration's header comment, if it has them."""
    try:
        lines = open(config, encoding="latin-1").read().splitlines()
    except OSError:
        return ""
    out, inside = [], False
    for line in lines:
        if not line.startswith("//"):
            break
        text = line[2:]
        if text.strip().lower().startswith("try it"):
            inside = True
        elif inside and text.startswith("   "):
            step = text.strip().removeprefix("sudo ")
            if not step.startswith("clickpy lab up"):
                out.append("  " + step)
        elif inside and out:
            break
    if not out:
        return ""
    if lab.name != "clickpy":
        out = [line.replace("clickpy lab ", f"clickpy lab --name {lab.name} ") for line in out]
    return "Try (from the configuration's header):\n" + "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    try:
        lab = Lab(ns.name, ns.state_dir)
        if ns.action == "up":
            # The middlebox reads the file itself; reading it here reports a
            # file that cannot be read before the lab is built.
            config, defs = config_source.split(ns.args)
            if config is not None:
                config_source.read(config)
            run_args = [*(a for p in ns.port for a in ("-p", p)),
                        *(a for u in ns.unix_socket for a in ("-u", os.path.abspath(u))),
                        *(["-R"] if ns.allow_reconfigure else [])]
            state = lab.up(config, defs, run_args=run_args)
            print(f"lab '{lab.name}' is up: namespaces {', '.join(state['namespaces'])}")
            print(_topology())
            if config:
                print(f"middlebox: {config} (pid {state['pid']}), log {state['log']}")
                print(f"           handlers through the ControlSocket at {state['control']} "
                      f"(clickpy read/write/handlers {state['control']} ...)")
                if ns.allow_reconfigure:
                    print(f"           reload it: clickpy reload [--dry-run] {state['control']} NEW-CONFIG")
            else:
                print("middlebox: nothing runs yet; the client and server cannot reach each other "
                      "until a configuration does (clickpy lab down; clickpy lab up CONFIG)")
            print()
            print((config and _config_hints(config, lab)) or _hints(lab))
            return 0
        if ns.action == "exec":
            if not ns.command:
                print("clickpy lab exec: give a command to run", file=sys.stderr)
                return 2
            try:
                lab.exec(ns.role, ns.command)
            except FileNotFoundError:
                print(f"clickpy lab exec: {ns.command[0]}: command not found", file=sys.stderr)
                return 127
        if ns.action == "read":
            for h in ns.handler:
                value = lab.read(h)
                if len(ns.handler) > 1:
                    print(f"{h}:")
                print(value, end="" if value.endswith("\n") or not value else "\n")
            return 0
        if ns.action == "status":
            state = lab.state()
            if state is None:
                print(f"lab '{lab.name}' is not up (clickpy lab up CONFIG)")
                return 1
            print(f"lab '{lab.name}': namespaces {', '.join(state['namespaces'])}")
            print(_topology())
            if state.get("pid"):
                alive = "running" if lab.middlebox_running() else "NOT RUNNING (see the log)"
                print(f"middlebox: {state['config']} (pid {state['pid']}) {alive}; log {state['log']}")
            else:
                print("middlebox: no configuration")
            print()
            print(_hints(lab))
            return 0
        if ns.action == "down":
            done = lab.down()
            for line in done:
                print(line)
            print(f"lab '{lab.name}' is down")
            return 0
    except (LabError, config_source.SourceError) as e:
        print(f"clickpy lab: {e}", file=sys.stderr)
        return 1
    except PermissionError as e:
        print(f"clickpy lab: not permitted ({e.strerror}); network namespaces need root", file=sys.stderr)
        return 1
    return 2
