"""'clickpy doc': an element's manual from its declaration; every class by family."""
import subprocess
import sys

from clickpy.cli.doc import describe, listing, sections
from clickpy.runtime import registry


def clickpy(*args):
    return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True, timeout=60)


def test_sections_of_a_docstring():
    doc = sections("""=c
    Foo(X)

    =s things
    does things

    =d
    Long text
      indented.

    =h count read-only
    """)
    assert doc == {"c": "Foo(X)", "s": "things\ndoes things", "d": "Long text\n  indented.",
                   "h": "count read-only"}


def test_every_handler_section_is_kept():
    doc = sections("""=h count read-only
    =h reset write-only: zero
      the counts
    =h rate read-only
    """)
    assert doc["h"] == "count read-only\nreset write-only: zero\nthe counts\nrate read-only"


def test_an_element_page_shows_its_declaration():
    text = describe("Counter")
    assert text.startswith("Counter — measures packet count and rate\n")
    assert "  Counter([keywords COUNT_CALL, BYTE_COUNT_CALL])" in text
    assert "ports:       1/1" in text and "processing:  a (inputs agnostic; outputs agnostic)" in text
    assert "  COUNT_CALL         keyword" in text
    assert "  reset_counts       w" in text and "  count              r" in text


def test_every_library_class_has_a_summary_and_is_listed():
    text = listing()
    library = {n for n, c in registry.element_classes().items() if c.__module__.startswith("clickpy.elements.")}
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert library <= set(lines)
    assert [n for n in sorted(library) if len(lines[n].split()) == 1] == []  # each has its =s summary


def test_the_command():
    r = clickpy("doc", "Queue")
    assert r.returncode == 0 and r.stdout.startswith("Queue — ")
    r = clickpy("doc", "Countr")
    assert r.returncode == 1 and r.stderr.startswith("clickpy doc: no element class 'Countr'; did you mean 'Counter'")
    r = clickpy("doc", "IPsecESPEncap")
    assert r.returncode == 1 and "does not implement yet" in r.stderr


def test_version_and_threads():
    r = clickpy("--version")
    lines = r.stdout.splitlines()
    assert lines[0] == "clickpy 0.1.0"
    assert lines[1].startswith("port backends: ") and "afpacket" in lines[1] and "pcap" in lines[1]
    r = clickpy("run", "-j", "2", "-e", "Idle")
    assert r.returncode == 1 and "-j 2: a router runs on one driver thread" in r.stderr


def test_arguments_come_from_the_declaration_with_stages_and_the_rest():
    text = describe("UDPRewriter")
    args = text.split("arguments:\n")[1].split("\n\n")[0].splitlines()
    keywords = [line.split()[0] for line in args]
    assert keywords.count("TIMEOUT") == 1  # the base's TIMEOUT is shadowed by UDPRewriter's own
    assert "  UDP_TIMEOUT        keyword, default 300" in args  # a synonym shows the default it gets
    assert args[-1].startswith("  INPUTSPEC...       the rest of the arguments")


def test_every_library_class_declares_its_arguments_and_its_page_shows_them():
    from clickpy.runtime.args import Arg

    library = {n: c for n, c in registry.element_classes().items() if c.__module__.startswith("clickpy.elements.")}
    undeclared = [n for n, c in library.items()
                  if not isinstance(c.arguments, tuple) or not all(isinstance(a, Arg) for a in c.arguments)]
    assert undeclared == []
    for name in ("Classifier", "IPFilter", "ARPQuerier", "Script", "StaticIPLookup"):
        page = describe(name)
        assert "\narguments:\n" in page
        for a in library[name].arguments:
            assert f"  {a.keyword}" in page, (name, a.keyword)
