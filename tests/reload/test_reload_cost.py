"""A reload's work follows the change, not the graph: changing one filter rule
in a 1,000-element graph does the same work as in a 10-element one.

Work is counted, not timed (bench/reload.py times it): the elements looked up,
configured, initialized and connected, the handler tables made, and the
lines of Python the swap itself runs between two batches.
"""
import sys
from collections import Counter

from support import build_router, run_for, sized_graph

from clickpy import pipeline
from clickpy.reload import swap
from clickpy.reload.swap import Reload
from clickpy.runtime import registry
from clickpy.runtime.router import Router

SIZES = (10, 1000)
RULES = ("deny dst port 23", "deny dst port 2323")


def _plans(n):
    return [pipeline.plan(pipeline.Source(sized_graph(n, rule), f"graph{n}.click")) for rule in RULES]


def _counting(monkeypatch, work: Counter):
    def count(owner, name, key):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            work[key] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)

    count(registry, "lookup", "classes looked up")
    count(Router, "_configure_one", "configured")
    count(Router, "_initialize_one", "initialized")
    count(Router, "port_wiring", "connected")
    count(swap, "handler_table", "handler tables")


def _element_work(n, monkeypatch) -> Counter:
    plans = _plans(n)
    router = build_router(sized_graph(n, RULES[0]), simulated=True)
    run_for(router, 0.01)
    router.reload(plans[1])                # a first reload warms up (imports, caches)
    run_for(router, 0.01)
    work = Counter()
    with monkeypatch.context() as m:
        _counting(m, work)
        report = router.reload(plans[0])
    assert len(router.elements) == n and report.replaced == ["f"] and report.lost == 0
    work.update({f"{k} elements": len(getattr(report, k)) for k in ("kept", "rewired", "replaced")})
    return work


def test_one_changed_rule_configures_and_connects_the_same_elements_whatever_the_graph_size(monkeypatch):
    small, large = (_element_work(n, monkeypatch) for n in SIZES)
    assert small["configured"] == small["initialized"] == 1   # the new filter alone
    assert small["connected"] > 0
    assert large["kept elements"] == small["kept elements"] + SIZES[1] - SIZES[0]
    for k in ("kept elements",):
        del small[k], large[k]
    assert large == small


def _lines_run(fn) -> Counter:
    """Lines of clickpy's Python fn runs (per file), through sys.settrace."""
    lines = Counter()

    def local(frame, event, arg):
        if event == "line":
            lines[frame.f_code.co_filename] += 1
        return local

    def tracer(frame, event, arg):
        return local if "clickpy" in frame.f_code.co_filename else None

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return lines


def _swap_lines(n) -> int:
    plans = _plans(n)
    router = build_router(sized_graph(n, RULES[0]), simulated=True)
    run_for(router, 0.01)
    router.reload(plans[1])
    run_for(router, 0.01)
    reload = Reload(router, plans[0])
    for _ in reload.steps():
        pass
    lines = _lines_run(reload.commit)
    assert reload.report.replaced == ["f"]
    return sum(lines.values())


def test_the_swap_runs_the_same_lines_whatever_the_graph_size():
    small, large = (_swap_lines(n) for n in SIZES)
    assert large == small, (small, large)
