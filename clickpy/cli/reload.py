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
    running = _running_plan(ns.target)
    extras = [(e.name, e.class_name, e.config) for e in running.elements if e.name.startswith(DRIVER_PREFIX)]
    # The router's own parameters (a lab's device names), under this command's.
    merged = {**_driver_definitions(ns.target), **definitions}
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

    if not any(name == "reload" for name, _ in _control_call(ns.target, lambda c: c.handlers())):
        raise _Fail(f"{ns.target}: this router takes no reloads (run it with -R)")
    payload = msgpack.packb([source.filename, source.text, definitions], use_bin_type=True).decode("latin-1")
    report = _control_call(ns.target, lambda c: (c.write("reload", payload), c.read("reload_report"))[1])
    sys.stdout.write(report)
    return 0


def _driver_definitions(target: str) -> dict[str, str]:
    """The NAME=value parameters the router was started with ({} if it takes no reloads)."""
    import msgpack

    from clickpy.cli.main import _control_call, _Fail

    if not any(name == "reload_definitions" for name, _ in _control_call(target, lambda c: c.handlers())):
        return {}
    data = _control_call(target, lambda c: c.read("reload_definitions"))
    try:
        defs = msgpack.unpackb(data.encode("latin-1"), raw=False)
        if isinstance(defs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in defs.items()):
            return defs
    except (ValueError, msgpack.UnpackException):
        pass
    raise _Fail(f"{target}: the router's parameters are damaged")


def _running_plan(target: str):
    from clickpy.cli.main import _control_call, _Fail
    from clickpy.plan import Plan

    data = _control_call(target, lambda c: c.read("plan"))
    try:
        return Plan.unpack(data.encode("latin-1"))
    except ValueError as e:
        raise _Fail(f"{target}: {e}") from None


def dry_run(running, plan) -> str:
    """The element diff, then the policy diff of each changed filter, as text."""
    from clickpy.reload.diff import RECONFIGURE, REPLACE, diff
    from clickpy.reload.policy import PolicyError, format_change, policy_diff
    from clickpy.runtime import registry

    d = diff(running, plan, registry.lookup)
    out = d.lines() or ["no change"]
    for i, a in enumerate(d.actions):
        if a not in (REPLACE, RECONFIGURE):
            continue
        old, new = running.elements[d.previous[i]], plan.elements[i]
        if old.class_name != new.class_name:
            continue
        try:
            changes = policy_diff(new.class_name, old.config, new.config, noutputs=plan.ports[i].noutputs,
                                  context=_naming_context(running, plan, old.name, new.name))
        except PolicyError as e:
            out.append(f"\npolicy of {new.name} :: {new.class_name}: not computed ({e})")
            continue
        if changes is None:
            continue
        out.append(f"\npolicy of {new.name} :: {new.class_name}:")
        for change in changes:
            out.append(f"  {format_change(change)}")
            if change.example:
                out.append(f"    for example {change.example.hex()}")
        if changes.more:
            out.append(f"  ... and {changes.more} more region{'s' if changes.more != 1 else ''}")
        if not changes:
            out.append("  no traffic changes fate")
    c = d.counts()
    out.append(f"\nkeep {c['keep']}, rewire {c['rewire']}, reconfigure {c['reconfigure']}, "
               f"replace {c['replace']}, add {c['add']}, remove {c['remove']}")
    return "\n".join(out) + "\n"


def _naming_context(running, plan, old_name, new_name):
    """(old, new) contexts for policy_diff: elements named as the filter, in
    configure-only routers of each Plan's name-defining elements (AddressInfo,
    PortInfo, IPRewriterPatterns)."""
    return _namer(running, old_name), _namer(plan, new_name)


def _namer(plan, name):
    from clickpy.errors import Diagnostics
    from clickpy.graph.flatgraph import FlatGraph
    from clickpy.plan import ElementPorts, Plan
    from clickpy.runtime import registry
    from clickpy.runtime.element import Element
    from clickpy.runtime.router import Router

    definers = [fe for fe in plan.elements if getattr(registry.lookup(fe.class_name), "defines_names", False)]
    graph = FlatGraph(elements=definers)
    router = Router(Plan(graph, [ElementPorts([], []) for _ in definers], Diagnostics()))
    try:
        for _ in router.build_steps(initialize=False):
            pass
    except ConfigError:
        return None
    context = Element()
    context.name, context.router = name, router
    return context
