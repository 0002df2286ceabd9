"""Helpers for the TCP/UDP/ICMP header tests; every test of this folder
leaves no packet descriptor in use.

``tu.through(body, packets, noutputs)`` runs ``HarnessFeed -> MarkIPHeader ->
e :: BODY`` (raw IP packets, made with scapy) with output k of ``e`` going to
input k of a HarnessRecord; it returns the router and, per output, the list
of packet bytes that left there. ``before`` is a chain put in front of ``e``.
"""
import pytest
from harness import feed, no_leaks, run_router  # noqa: F401  (no_leaks: an autouse fixture)


def through(body, packets, noutputs=1, before=""):
    config = (f"HarnessFeed({feed(bytes(p) for p in packets)}) -> MarkIPHeader -> "
              f"{before + ' -> ' if before else ''}e :: {body};\nrec :: HarnessRecord;\n")
    config += "".join(f"e[{k}] -> [{k}] rec;\n" for k in range(noutputs))
    rec = run_router(config).find("rec")
    return rec.router, [[x.data for x in rec.on(k)] for k in range(noutputs)]


@pytest.fixture
def tu():
    import types

    return types.SimpleNamespace(through=through)
