"""Every element's documentation names exactly the handlers it has.

An element's docstring lists its handlers in Click's ``=h NAME[, NAME...]
FLAGS`` lines (what ``clickpy doc`` prints). Each handler a class declares
must be documented, in its own docstring or a base class's; each handler its
own docstring names must exist: declared by the class, or made per element
(``pattern0``, ``drop_details`` with DETAILS, ...), which a small router
built from DYNAMIC shows.
"""
from __future__ import annotations

import textwrap

import pytest
from support import build_router

from clickpy.runtime import registry

# Handlers every element (or every element with a task) has, documented once
# in the manual rather than per class.
GENERIC = {"name", "class", "config", "ports", "handlers", "scheduled", "tickets", "home_thread"}

# Configurations that make the handlers some docs name per element; in each,
# the element under test is called ``e``.
DYNAMIC = {
    "CheckIPHeader": "Idle -> e :: CheckIPHeader(DETAILS true) -> Discard",
    "CheckICMPHeader": "Idle -> e :: CheckICMPHeader(DETAILS true) -> Discard",
    "CheckTCPHeader": "Idle -> e :: CheckTCPHeader(DETAILS true) -> Discard",
    "CheckUDPHeader": "Idle -> e :: CheckUDPHeader(DETAILS true) -> Discard",
    "IPClassifier": "Idle -> e :: IPClassifier(tcp, -) => Discard, Discard",
    "StrideSched": "e :: StrideSched(1, 2) -> Discard; Idle -> [0]e; Idle -> [1]e",
    "ControlSocket": "e :: ControlSocket(TCP, 0, LOCALHOST true)",
}
for _rewriter in ("IPRewriter", "TCPRewriter", "UDPRewriter", "IPAddrRewriter",
                  "IPAddrPairRewriter", "ICMPPingRewriter"):
    DYNAMIC[_rewriter] = f"Idle -> e :: {_rewriter}(drop) -> Discard"


def documented_handlers(doc: str | None) -> set[str]:
    """The handler names of a docstring's ``=h`` lines: the first word, and
    each following word while the one before it ends in a comma."""
    names = set()
    for line in textwrap.dedent(doc or "").splitlines():
        words = line.strip().split()
        if not words or words[0] != "=h":
            continue
        words = words[1:]
        for i, word in enumerate(words):
            if i and not words[i - 1].endswith(","):
                break
            names.add(word.rstrip(",:"))
    return names


def _library_classes() -> dict[str, type]:
    return {name: cls for name, cls in registry.element_classes().items()
            if cls.__module__.startswith("clickpy.elements.")}


def _declared(cls) -> set[str]:
    return {h.name for h in (getattr(cls, "handlers", ()) or ())}


def _documented_here_or_above(cls) -> set[str]:
    names = set()
    for base in cls.__mro__:
        names |= documented_handlers(base.__dict__.get("__doc__"))
    return names


def _instance_name(doc_name: str) -> str:
    """patternN -> pattern0, tickets0...ticketsN-1 -> tickets0."""
    doc_name = doc_name.split("...")[0]
    return doc_name[:-1] + "0" if doc_name.endswith("N") else doc_name


@pytest.mark.parametrize("class_name", sorted(_library_classes()))
def test_declared_handlers_are_documented(class_name):
    cls = _library_classes()[class_name]
    missing = _declared(cls) - _documented_here_or_above(cls) - GENERIC
    assert not missing, f"{class_name} declares handlers its docs do not name: {sorted(missing)}"


@pytest.mark.parametrize("class_name", sorted(_library_classes()))
def test_documented_handlers_exist(class_name):
    cls = _library_classes()[class_name]
    named = documented_handlers(cls.__dict__.get("__doc__")) - _declared(cls) - GENERIC
    if not named:
        return
    assert class_name in DYNAMIC, (
        f"{class_name}'s docs name handlers it does not declare: {sorted(named)}")
    router = build_router(DYNAMIC[class_name])
    e = router.find("e")
    absent = sorted(n for n in named if router.handler(e, _instance_name(n)) is None)
    assert not absent, f"{class_name}'s docs name handlers an element does not have: {absent}"


def test_the_doc_reader_reads_lists_and_stops_at_flags():
    doc = """
    =h add, sub "read with parameters"
    =h count read-only: packets
    =h tickets0...ticketsN-1 read/write
    """
    assert documented_handlers(doc) == {"add", "sub", "count", "tickets0...ticketsN-1"}
