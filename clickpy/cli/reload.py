"""clickpy reload: run a new configuration in a running router, keeping what is unchanged.

    clickpy reload TARGET CONFIG [NAME=value ...]        # reload; print the report
    clickpy reload --dry-run TARGET CONFIG [NAME=value]   # print what would change; change nothing

TARGET is the router's ControlSocket (a TCP port, HOST:PORT or a Unix
socket's path); the router must run with -R (a writable 'reload' handler).
The configuration is checked here first, so its errors name the file as
``clickpy check`` would, and then sent with its parameters to the router,
which checks it again (it trusts no client), builds the new elements beside
the running ones and swaps between two batches. The dry run reads the
running Plan and diffs it here, with the policy diff of every changed
filter: which traffic changes fate.
"""
from __future__ import annotations

import argparse
import sys

from clickpy import pipeline
from clickpy.cli import source as config_source
from clickpy.errors import ConfigError

# Elements the driver adds to every configuration (its ControlSockets).
DRIVER_PREFIX = "click_driver@@"


def add_parser(sub, target_help: str) -> None:
    p = sub.add_parser("reload", help="run a new configuration in a running router (-R), keeping what is "
                                      "unchanged; --dry-run shows the diff and which traffic changes fate")
    p.add_argument("target", metavar="TARGET", help=target_help)
    config_source.add_arguments(p)
    p.add_argument("-n", "--dry-run", action="store_true",
                   help="print the element diff and the policy diff; change nothing")
    p.set_defaults(func=cmd_reload)


def cmd_reload(ns: argparse.Namespace) -> int:
    from clickpy.cli.main import _control_call, _Fail

    try:
        source, definitions = config_source.from_arguments(ns, stdin=False)
    except config_source.SourceError as e:
        raise _Fail(f"reload: {e}") from None
    # What the router runs, and whether (and with which parameters) it takes reloads.
    handlers, plan_data, driver_data = _control_call(ns.target, _router_state)
    running = _running_plan(ns.target, plan_data)
    extras = [(e.name, e.class_name, e.config) for e in running.elements if e.name.startswith(DRIVER_PREFIX)]
    # The router's own parameters (a lab's device names), under this command's.
    merged = {**_driver_definitions(ns.target, driver_data), **definitions}
    try:
        plan = pipeline.plan(source, merged, extras)
    except ConfigError as e:
        text = e.diagnostics.format()
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        return 1
    if ns.dry_run:
        sys.stdout.write(dry_run(running, plan))
        return 0

    import msgpack

    if "reload" not in handlers:
        raise _Fail(f"{ns.target}: this router takes no reloads (run it with -R)")
    payload = msgpack.packb([source.filename, source.text, definitions], use_bin_type=True).decode("latin-1")
    report = _control_call(ns.target, lambda c: (c.write("reload", payload), c.read("reload_report"))[1])
    sys.stdout.write(report)
    return 0


def _router_state(client) -> tuple[set[str], str, str | None]:
    """Over one connection: the router's own handlers, its packed Plan, and its
    packed NAME=value parameters (None when it takes no reloads)."""
    handlers = {name for name, _ in client.handlers()}
    definitions = client.read("reload_definitions") if "reload_definitions" in handlers else None
    return handlers, client.read("plan"), definitions


def _driver_definitions(target: str, data: str | None) -> dict[str, str]:
    """The NAME=value parameters the router was started with ({} if it takes no reloads)."""
    import msgpack

    from clickpy.cli.main import _Fail

    if data is None:
        return {}
    try:
        defs = msgpack.unpackb(data.encode("latin-1"), raw=False)
        if isinstance(defs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in defs.items()):
            return defs
    except (ValueError, msgpack.UnpackException):
        pass
    raise _Fail(f"{target}: the router's parameters are damaged")


def _running_plan(target: str, data: str):
    from clickpy.cli.main import _Fail
    from clickpy.plan import Plan

    try:
        return Plan.unpack(data.encode("latin-1"))
    except ValueError as e:
        raise _Fail(f"{target}: {e}") from None


def dry_run(running, plan) -> str:
    """The element diff, then the policy diff of each changed filter, as text."""
    from clickpy.reload.diff import RECONFIGURE, REPLACE, diff
    from clickpy.runtime import registry

    d = diff(running, plan, registry.lookup)
    out = d.lines() or ["no change"]
    changed = [i for i, a in enumerate(d.actions) if a in (REPLACE, RECONFIGURE)
               and running.elements[d.previous[i]].class_name == plan.elements[i].class_name]
    if changed:
        # Each configuration's names (AddressInfo, PortInfo, patterns) mean what its own Plan says.
        names = _name_router(running), _name_router(plan)
        try:
            for i in changed:
                out += _policy_lines(running.elements[d.previous[i]], plan.elements[i], plan.ports[i].noutputs,
                                     names)
        finally:
            for router in names:
                if router is not None:
                    router.cleanup()
    c = d.counts()
    out.append(f"\nkeep {c['keep']}, rewire {c['rewire']}, reconfigure {c['reconfigure']}, "
               f"replace {c['replace']}, add {c['add']}, remove {c['remove']}")
    return "\n".join(out) + "\n"


def _policy_lines(old, new, noutputs: int, names) -> list[str]:
    """Which traffic changes fate between old's and new's configurations of one filter."""
    from clickpy.reload.policy import PolicyError, format_change, policy_diff

    context = tuple(_context(router, fe.name) for router, fe in zip(names, (old, new)))
    try:
        changes = policy_diff(new.class_name, old.config, new.config, noutputs=noutputs, context=context)
    except PolicyError as e:
        return [f"\npolicy of {new.name} :: {new.class_name}: not computed ({e})"]
    if changes is None:
        return []
    out = [f"\npolicy of {new.name} :: {new.class_name}:"]
    for change in changes:
        out.append(f"  {format_change(change)}")
        if change.example:
            out.append(f"    for example {change.example.hex()}")
    if changes.more:
        out.append(f"  ... and {changes.more} more region{'s' if changes.more != 1 else ''}")
    if not changes:
        out.append("  no traffic changes fate")
    return out


def _name_router(plan):
    """A configure-only router of plan's name-defining elements (AddressInfo,
    PortInfo, IPRewriterPatterns), or None if they do not configure."""
    from clickpy.errors import Diagnostics
    from clickpy.graph.flatgraph import FlatGraph
    from clickpy.plan import ElementPorts, Plan
    from clickpy.runtime import registry
    from clickpy.runtime.router import Router

    definers = [fe for fe in plan.elements if getattr(registry.lookup(fe.class_name), "defines_names", False)]
    router = Router(Plan(FlatGraph(elements=definers), [ElementPorts([], []) for _ in definers], Diagnostics()))
    try:
        for _ in router.build_steps(initialize=False):
            pass
    except ConfigError:
        router.cleanup()
        return None
    return router


def _context(router, name: str):
    """An element named name in router: where a filter's names are looked up from."""
    from clickpy.runtime.element import Element

    if router is None:
        return None
    context = Element()
    context.name, context.router = name, router
    return context
