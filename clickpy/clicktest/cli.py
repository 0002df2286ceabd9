"""``clickpy clicktest``: run `.clicktest` files and report on each.

Prints ``PASS path``, ``FAIL path: reason`` or ``SKIP path: reason`` per test
and a summary line ``N passed, M failed[, K skipped]``. Exits 0 iff nothing
failed (a malformed test counts as failed), 2 for bad usage, 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from clickpy.clicktest.runner import DEFAULT_TIMEOUT, Outcome, TestResult, run_tests

_PROG = "clickpy clicktest"
_REASONS_PER_LINE = 3


def read_test_list(list_file: Path, root: Path | None = None) -> list[str]:
    """Test paths named in a list file: one per line, ``#`` starts a comment.

    Relative paths are relative to root, or else to the directory holding the
    list file.
    """
    base = root if root is not None else list_file.parent
    paths = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            paths.append(os.path.normpath(base / entry))
    return paths


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError("the timeout must be positive")
    return seconds


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Run Click .clicktest files with clickpy standing in for click.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="for failures, show the first difference and the script's stderr",
    )
    parser.add_argument(
        "-k", "--keep", action="store_true", help="keep each test's temporary directory"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds allowed for each script (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--list",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="also run the tests named in FILE, one path per line (may be repeated)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="resolve relative paths in --list files against DIR (default: the list's folder)",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="FILE|DIR",
        help="test files, or directories searched for *.clicktest",
    )
    return parser


def _report(result: TestResult, verbose: bool) -> None:
    label = "FAIL" if result.outcome is Outcome.ERROR else result.outcome.value
    line = f"{label} {result.path}"
    if result.reasons:
        # One line per test: a test with many broken outputs would swamp the report.
        shown = result.reasons[:_REASONS_PER_LINE]
        hidden = len(result.reasons) - len(shown)
        line += ": " + "; ".join(shown) + (f"; and {hidden} more" if hidden else "")
    print(line)
    if verbose:
        for detail in result.details:
            print(textwrap.indent(detail, "    "))
    if result.kept_dir:
        print(f"    kept {result.kept_dir}")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _argument_parser()
    args = parser.parse_args(argv)
    paths = list(args.paths)
    for list_file in args.list:
        try:
            paths += read_test_list(list_file, args.root)
        except OSError as error:
            parser.error(f"cannot read list {list_file}: {error.strerror}")
        except UnicodeDecodeError:
            parser.error(f"list {list_file} is not UTF-8 text")
    if not paths:
        parser.error("no tests given")
    try:
        results = run_tests(
            paths,
            verbose=args.verbose,
            keep=args.keep,
            timeout=args.timeout,
            on_result=lambda result: _report(result, args.verbose),
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    passed = sum(result.outcome is Outcome.PASSED for result in results)
    skipped = sum(result.outcome is Outcome.SKIPPED for result in results)
    failed = len(results) - passed - skipped
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    return 0 if failed == 0 else 1
