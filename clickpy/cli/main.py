"""The ``clickpy`` command: one subcommand per job.

Configuration arguments follow Click's tools: a file name (or ``-f FILE``),
``-e EXPR`` for inline text, standard input when neither is given, and
``NAME=value`` parameters that override the file's ``define``s.
"""
from __future__ import annotations

import argparse
import os
import sys

import clickpy
from clickpy import pipeline
from clickpy.cli import source as config_source


def _source(ns: argparse.Namespace) -> tuple[pipeline.Source, dict[str, str]]:
    try:
        return config_source.from_arguments(ns)
    except config_source.SourceError as e:
        raise _Fail(str(e)) from None


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        from clickpy.netmap_shim.backends import AFXDP_MISSING, afxdp_built
        from clickpy.netmap_shim.ring import backends

        print(f"clickpy {clickpy.__version__}")
        print(f"port backends: {', '.join(sorted(backends()))}")
        if not afxdp_built():
            print(f"  afxdp: {AFXDP_MISSING}")
        parser.exit()


class _Fail(Exception):
    """A command failed for a reason the user can fix; printed without a traceback."""


def _report(result: pipeline.Result) -> None:
    if result.diagnostics.items:
        print(result.diagnostics.format(), file=sys.stderr)


def _write(path: str | None, data: str | bytes) -> None:
    if path in (None, "-"):
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    except OSError as e:
        raise _Fail(f"{path}: {e.strerror}") from None


def cmd_check(ns: argparse.Namespace) -> int:
    source, defs = _source(ns)
    result = pipeline.load(source, defs)
    if result.ok:
        _configure_only(result, result.ports)
    elif result.graph is not None and all(d.category == "class" for d in result.diagnostics.errors):
        # Classes clickpy lacks: still configure the elements it has, so one
        # pass reports every error (the missing ones stand in as no-ops).
        from clickpy.graph.check import port_plans_around_missing_classes

        _configure_only(result, port_plans_around_missing_classes(result.graph))
    _report(result)
    if result.ok and not ns.quiet:
        n = len(result.graph.elements)
        print(f"{source.filename}: ok ({n} element{'s' if n != 1 else ''}, "
              f"{len(result.graph.connections)} connections)", file=sys.stderr)
    return 0 if result.ok else 1


def _configure_only(result: pipeline.Result, ports) -> None:
    """Configure every element, as 'clickpy run -q' would, but initialize
    nothing (no file, device or socket is opened); errors join the result's."""
    from clickpy.errors import ConfigError
    from clickpy.runtime.element import Element
    from clickpy.plan import Plan
    from clickpy.runtime.router import Router

    class MissingClass(Element):
        abstract = True             # never a class a configuration can name
        port_count = "-/-"

        def configure(self, conf, errh):
            return True

    router = Router(Plan(result.graph, ports, result.diagnostics))
    router.missing_class = MissingClass
    try:
        for _ in router.build_steps(initialize=False):
            pass
    except (ConfigError, ImportError):
        pass  # the errors (a class that cannot load included) are in result.diagnostics
    finally:
        router.cleanup()


def cmd_flatten(ns: argparse.Namespace) -> int:
    source, defs = _source(ns)
    # As click-flatten: the file's parameters (with NAME=value overrides)
    # stay symbolic unless --expand-vars asks for their values.
    result = pipeline.load(source, defs, run_check=False, keep_parameters=not ns.expand_vars)
    _report(result)
    if not result.ok:
        return 1
    _write(ns.output, result.graph.unparse(landmarks=ns.landmarks))
    return 0


def cmd_graph(ns: argparse.Namespace) -> int:
    from clickpy.graph import dot

    source, defs = _source(ns)
    result = pipeline.load(source, defs, run_check=False)
    if not result.ok:
        _report(result)
        return 1
    # Checking only decorates the drawing (pull edges); a config that does
    # not check can still be drawn.
    checked = pipeline.load(source, defs)
    text = dot.to_dot(result.graph, checked.ports if checked.ok else None, source.filename)
    fmt = ns.format or (ns.output.rsplit(".", 1)[-1] if ns.output and "." in ns.output else "dot")
    if fmt not in dot.FORMATS:
        raise _Fail(f"{ns.output}: cannot tell the format from '.{fmt}': name the file .dot, .svg, .png "
                    f"or .pdf, or choose one with -T")
    if fmt == "dot":
        _write(ns.output, text)
        return 0
    try:
        _write(ns.output, dot.render(text, fmt))
    except (dot.GraphvizMissing, RuntimeError) as e:
        raise _Fail(str(e)) from None
    return 0


def cmd_bench(ns: argparse.Namespace) -> int:
    from clickpy import bench
    from clickpy.errors import ConfigError

    rest, defs = pipeline.split_definitions(ns.workloads)
    names = rest or ["infsrc"]
    for name in names:
        if name in bench.WORKLOADS:
            continue
        if not os.path.exists(name):
            raise _Fail(f"no workload or file named '{name}' (workloads: {', '.join(bench.WORKLOADS)})")
        try:
            config_source.read(name)  # a file that cannot be read is reported as every command does
        except config_source.SourceError as e:
            raise _Fail(str(e)) from None
    try:
        for name in names:
            m = bench.measure(name, burst=ns.burst, limit=ns.limit, rounds=ns.rounds,
                              definitions=defs, counter=ns.counter)
            print(m.line())
    except ConfigError as e:
        print(e.diagnostics.format(), file=sys.stderr)
        return 1
    except bench.BenchError as e:
        raise _Fail(str(e)) from None
    return 0


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: must be at least 1")
    return n


def _client(target: str):
    from clickpy.control.client import ControlClient

    try:
        return ControlClient(target)
    except OSError as e:
        raise _Fail(f"{target}: {e.strerror or e}") from None


def _control_call(target: str, call):
    from clickpy.control.client import ControlError

    with _client(target) as c:
        try:
            return call(c)
        except ControlError as e:
            raise _Fail("\n".join(e.lines)) from None
        except (OSError, ConnectionError) as e:
            raise _Fail(f"{target}: {e}") from None


def cmd_read(ns: argparse.Namespace) -> int:
    value = _control_call(ns.target, lambda c: c.read(ns.handler, " ".join(ns.param)))
    sys.stdout.write(value if not value or value.endswith("\n") else value + "\n")
    return 0


def cmd_write(ns: argparse.Namespace) -> int:
    for line in _control_call(ns.target, lambda c: c.write(ns.handler, " ".join(ns.value))):
        if "OK" not in line:
            print(line, file=sys.stderr)  # warnings the write produced
    return 0


def cmd_handlers(ns: argparse.Namespace) -> int:
    for name, flags in _control_call(ns.target, lambda c: c.handlers(ns.element or "")):
        print(f"{name}\t{flags}")
    return 0


def cmd_clicktest(ns: argparse.Namespace, extra: list[str]) -> int:
    from clickpy.clicktest.cli import main as clicktest_main

    return clicktest_main(extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clickpy",
        description="Click-language middleboxes on a fast Python/Cython data path.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and the port backends built")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="check and configure a configuration (nothing runs or opens);"
                                     " print every error as file:line:col")
    config_source.add_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when the config is valid")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("flatten", help="print the configuration with compounds expanded (click-flatten)")
    config_source.add_arguments(p)
    p.add_argument("-o", "--output", help="write to FILE instead of standard output")
    p.add_argument("--landmarks", action="store_true", help="precede declarations with line directives")
    p.add_argument("--expand-vars", action="store_true",
                   help="substitute the file's define'd parameters (by default they stay $NAME, with their define)")
    p.set_defaults(func=cmd_flatten)

    p = sub.add_parser("graph", help="draw the router graph (.dot always; .svg/.png/.pdf need Graphviz)")
    config_source.add_arguments(p)
    p.add_argument("-o", "--output", help="output file; its extension picks the format")
    p.add_argument("-T", "--format", choices=["dot", "svg", "png", "pdf"], help="output format")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("bench", help="measure throughput (Mpps) of a named workload or a config file")
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD|FILE|NAME=value",
                   help="infsrc (default), classify, or a configuration file")
    p.add_argument("--burst", type=_positive, default=32, help="BURST for the workload's source (default 32)")
    p.add_argument("--limit", type=_positive, default=10_000_000, help="packets per run (default 10M)")
    p.add_argument("--rounds", type=_positive, default=3, help="runs; the median is reported (default 3)")
    p.add_argument("--counter", default="c", help="the Counter whose count is the packet total (default c)")
    p.set_defaults(func=cmd_bench)

    target_help = "a running router's ControlSocket: a TCP port (-p), HOST:PORT, or a Unix socket path (-u)"
    p = sub.add_parser("read", help="print a read handler of a running router (ELEMENT.HANDLER or HANDLER)")
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("handler", metavar="ELEMENT.HANDLER")
    p.add_argument("param", nargs="*", help="parameters, for handlers that take them")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("write", help="write a handler of a running router")
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("handler", metavar="ELEMENT.HANDLER")
    p.add_argument("value", nargs="*", help="the value (words are joined by spaces)")
    p.set_defaults(func=cmd_write)

    from clickpy.cli import guest as guest_command
    from clickpy.cli import reload as reload_command

    reload_command.add_parser(sub, target_help)
    guest_command.add_parsers(sub)

    p = sub.add_parser("cache", help="the specialised modules compiled for configurations: where, how many, "
                                     "how big ('clear' empties it)")
    p.add_argument("action", nargs="?", choices=["show", "clear"], default="show")
    p.set_defaults(func=cmd_cache)

    p = sub.add_parser("handlers", help="list the handlers of a running router or one of its elements")
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("element", nargs="?", help="an element's name (default: the router's own handlers)")
    p.set_defaults(func=cmd_handlers)

    sub.add_parser("clicktest", help="run Click .clicktest files with clickpy standing in for click",
                   add_help=False)
    sub.add_parser("run", help="run a router (Click's driver flags: -e -f -h -x -q -o --simtime NAME=value)",
                   add_help=False)
    sub.add_parser("deploy", help="run a config on this host's interfaces (set up, then restored on exit)",
                   add_help=False)
    sub.add_parser("lab", help="a client-middlebox-server lab in network namespaces: up, down, exec, status",
                   add_help=False)
    sub.add_parser("doc", help="an element class's documentation (ports, arguments, handlers); all classes by family",
                   add_help=False)
    sub.add_parser("switch", help="run the switch that starts guests per tenant or per flow (status, check)",
                   add_help=False)
    return parser


def cmd_cache(ns) -> int:
    from clickpy import spec_cache

    if ns.action == "clear":
        n = spec_cache.clear()
        print(f"removed {n} specialised module{'s' if n != 1 else ''} from {spec_cache.cache_dir()}")
        return 0
    info = spec_cache.summary()
    print(f"folder   {info['folder']}")
    print(f"modules  {info['modules']}")
    print(f"size     {info['bytes'] / 1024:.0f} KiB of {info['limit'] / (1 << 20):.0f} MiB "
          "(CLICKPY_CACHE_MAX_MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (clickpy ... | head): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "clicktest":
        return cmd_clicktest(argparse.Namespace(), argv[1:])
    if argv and argv[0] == "run":
        from clickpy.cli.run import main as run_main

        return run_main(argv[1:])
    if argv and argv[0] == "deploy":
        from clickpy.cli.deploy import main as deploy_main

        return deploy_main(argv[1:])
    if argv and argv[0] == "lab":
        from clickpy.cli.lab import main as lab_main

        return lab_main(argv[1:])
    if argv and argv[0] == "doc":
        from clickpy.cli.doc import main as doc_main

        return doc_main(argv[1:])
    if argv and argv[0] == "switch":
        from clickpy.cli.switch import main as switch_main

        return switch_main(argv[1:])
    ns = parser.parse_args(argv)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 2
    try:
        return ns.func(ns)
    except _Fail as e:
        print(f"clickpy: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
