"""A stand-in for Click's ``click-buildtool`` inside clicktest scripts.

Only ``click-buildtool provides NAME...`` is implemented: ``%require``
sections use it to skip tests whose elements or driver features are missing.
It exits 0 iff every NAME is provided, and names the missing ones on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Driver and build features, in Click's spelling, that clickpy provides. Kept
# short on purpose: claiming a feature clickpy lacks would turn a clean SKIP
# into a confusing FAIL.
PROVIDED_FEATURES = frozenset({"userlevel", "int64"})

USAGE = "usage: click-buildtool provides NAME..."


def provides(name: str) -> bool:
    """True if ``name`` is a provided feature or an implemented element class."""
    if name in PROVIDED_FEATURES:
        return True
    # Imported here: the catalog is only needed for element names.
    from clickpy.graph.catalog import is_implemented

    return is_implemented(name)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] != "provides":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        missing = [name for name in arguments[1:] if not provides(name)]
    except ImportError as error:
        print(
            f"click-buildtool: cannot consult clickpy's element catalog: {error}", file=sys.stderr
        )
        return 1
    if missing:
        print(f"click-buildtool: not provided: {' '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
