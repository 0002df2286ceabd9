"""clickpy build and clickpy inspect: guest images.

    clickpy build CONFIG [NAME=value ...] -o NAME.guest [--memory 64M] [--export ELEMENT.HANDLER ...]
    clickpy inspect NAME.guest
"""
from __future__ import annotations

import argparse
import sys

from clickpy import pipeline
from clickpy.cli import source as config_source
from clickpy.errors import ConfigError



def add_parsers(sub) -> None:
    p = sub.add_parser("build", help="check a configuration and write a guest image (-o NAME.guest)")
    config_source.add_arguments(p)
    p.add_argument("-o", "--output", required=True, help="the image file to write")
    p.add_argument("--memory", default="64M", type=_size, help="the guest's memory cap (default 64M)")
    p.add_argument("--export", action="append", metavar="ELEMENT.HANDLER",
                   help="a handler the guest's controller may call (repeatable; default: all)")
    p.add_argument("--specialize", choices=("on", "off"), default="on",
                   help="carry the configuration's compiled module, so guests run it without compiling "
                        "(default on)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("inspect", help="print a guest image: elements, ports, hash, metadata")
    p.add_argument("image", metavar="NAME.guest")
    p.set_defaults(func=cmd_inspect)


def _size(text: str) -> int:
    from clickpy.guest.image import parse_size

    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (for example 64M)") from None


def cmd_build(ns: argparse.Namespace) -> int:
    from clickpy.cli.main import _Fail, _write
    from clickpy.guest.image import build

    try:
        source, definitions = config_source.from_arguments(ns, stdin=False)
    except config_source.SourceError as e:
        raise _Fail(f"build: {e}") from None
    try:
        plan = pipeline.plan(source, definitions)
    except ConfigError as e:
        text = e.diagnostics.format()
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        return 1
    specialized = None
    if ns.specialize == "on":
        from clickpy.guest.image import specialized_of
        from clickpy.spec_cache import BuildError

        try:
            specialized = specialized_of(plan)
        except BuildError as e:
            print(f"clickpy build: warning: no specialised module in the image ({e})", file=sys.stderr)
    image = build(plan, memory_cap=ns.memory, exports=ns.export or ["*"], source=source, definitions=definitions,
                  specialized=specialized)
    _write(ns.output, image.pack())
    walks = f", specialised: {', '.join(specialized['walks'])}" if specialized else ""
    print(f"{ns.output}: {len(plan.elements)} elements, ports {', '.join(image.ports) or '(none)'}, "
          f"hash {image.content_hash[:16]}{walks}")
    return 0


def cmd_inspect(ns: argparse.Namespace) -> int:
    from clickpy.cli.main import _Fail
    from clickpy.guest.image import GuestImage, GuestImageError

    try:
        with open(ns.image, "rb") as f:
            data = f.read()
    except OSError as e:
        raise _Fail(f"{ns.image}: {e.strerror}") from None
    try:
        sys.stdout.write(GuestImage.unpack(data).describe())
    except GuestImageError as e:
        raise _Fail(f"{ns.image}: {e}") from None
    return 0
