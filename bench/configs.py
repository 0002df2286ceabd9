"""Generators for benchmark configurations."""


def large_config(nelements: int = 10_000) -> str:
    """A Click config that flattens to about nelements elements.

    It mixes what real configurations hold: declarations, long chains of
    anonymous elements, a compound class with parameters used many times,
    and many-to-one connections.
    """
    lines = [
        "define($LIMIT 1000)",
        "elementclass Stage { $color, $n | input -> Paint($color) -> CheckPaint($color) "
        "-> c :: Counter -> Strip($n) -> output }",
        "src :: InfiniteSource(LIMIT $LIMIT);",
        "sink :: Discard;",
    ]
    made = 2
    chain = 0
    while made < nelements:
        # one chain: 4 stages of 4 elements each, plus 4 plain elements
        parts = [f"Queue({100 + chain % 7})", "Unqueue"]
        parts += [f"Stage({chain % 256}, {chain % 14})" for _ in range(4)]
        parts += ["Counter", f"Print(chain{chain})"]
        lines.append("src -> " + " -> ".join(parts) + " -> sink;")
        made += 2 + 4 * 4 + 2
        chain += 1
    return "\n".join(lines) + "\n"
