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
