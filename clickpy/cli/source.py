"""The configuration a command line names, read the same way by every command.

As in Click's tools: ``-e EXPR`` is the configuration's text, ``-f FILE`` or
a lone FILE argument names a file, and with neither the configuration is
read from standard input; ``NAME=value`` arguments set parameters,
overriding the file's ``define``s. The errors are worded once, here; each
command prefixes them with its name.
"""
from __future__ import annotations

import argparse

from clickpy import pipeline


class SourceError(Exception):
    """The command line names no configuration that can be read; says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The configuration arguments: FILE and NAME=value, -f FILE, -e EXPR."""
    parser.add_argument("args", nargs="*", metavar="FILE|NAME=value",
                        help="configuration file and parameters")
    parser.add_argument("-f", "--file", help="read the configuration from FILE")
    parser.add_argument("-e", "--expression", metavar="EXPR", help="use EXPR as the configuration")


def split(args: list[str], file: str | None = None, expression: str | None = None
          ) -> tuple[str | None, dict[str, str]]:
    """The configuration file the arguments name (None: none) and their NAME=value parameters."""
    rest, definitions = pipeline.split_definitions(args)
    files = ([file] if file is not None else []) + rest
    if expression is not None and files:
        raise SourceError(f"both -e EXPR and a configuration file ({' '.join(files)}): give one")
    if len(files) > 1:
        raise SourceError(f"too many configuration files: {' '.join(files)}")
    return (files[0] if files else None), definitions


def read(file: str | None, expression: str | None = None, *, stdin: bool = True) -> pipeline.Source:
    """The configuration text: EXPR, FILE, or standard input ('-', or neither
    given, where stdin allows it)."""
    if file is None and expression is None and not stdin:
        raise SourceError("give a configuration file (or -e EXPR)")
    try:
        return pipeline.read_source(file, expression)
    except OSError as e:
        raise SourceError(f"{e.filename}: {e.strerror}") from None


def from_arguments(ns: argparse.Namespace, *, stdin: bool = True) -> tuple[pipeline.Source, dict[str, str]]:
    """Source and parameters from the arguments add_arguments declared."""
    file, definitions = split(ns.args, ns.file, ns.expression)
    return read(file, ns.expression, stdin=stdin), definitions
