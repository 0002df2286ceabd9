"""The switch's guest table, as the 'guests' handler and 'clickpy switch status' print it."""
from __future__ import annotations

COLUMNS = (("id", "GUEST"), ("tenant", "TENANT"), ("key", "KEY"), ("state", "STATE"), ("pid", "PID"),
           ("in", "IN"), ("out", "OUT"), ("drops", "DROPS"), ("held", "HELD"), ("memory", "MEMORY"),
           ("uptime", "UPTIME"), ("restarts", "RESTARTS"))


def _cell(name: str, value) -> str:
    if name == "memory":
        return f"{value / (1 << 20):.1f}M" if value else "-"
    if name == "uptime":
        return f"{value:.1f}s" if value else "-"
    if name == "pid":
        return str(value) if value else "-"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """One line per guest under a header; the last error of a guest that has one on a line below it."""
    if not rows:
        return "no guests\n"
    cells = [[title for _, title in COLUMNS]] + [[_cell(name, r[name]) for name, _ in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = []
    for line, row in zip(cells, [None] + rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        if row is not None and row.get("last_error"):
            out.append(f"    last exit: {row['last_error']}")
    return "\n".join(out) + "\n"
