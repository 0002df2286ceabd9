"""One reading of the configuration arguments for every clickpy command:
-e EXPR, -f FILE, a FILE argument or standard input, and NAME=value."""
import argparse
import io
import subprocess
import sys

import pytest

from clickpy.cli import source as config_source


def parse(argv):
    p = argparse.ArgumentParser()
    config_source.add_arguments(p)
    return p.parse_intermixed_args(argv)


def test_a_file_argument_and_definitions(tmp_path):
    (tmp_path / "a.click").write_text("Idle -> Discard;")
    src, defs = config_source.from_arguments(parse([str(tmp_path / "a.click"), "N=1", "X=a=b"]))
    assert (src.text, src.filename, defs) == ("Idle -> Discard;", str(tmp_path / "a.click"), {"N": "1", "X": "a=b"})
    src, defs = config_source.from_arguments(parse(["-f", str(tmp_path / "a.click")]))
    assert src.text == "Idle -> Discard;" and defs == {}


def test_an_expression():
    src, defs = config_source.from_arguments(parse(["-e", "Idle -> Discard", "N=2"]))
    assert (src.text, src.filename, defs) == ("Idle -> Discard", "config", {"N": "2"})


def test_standard_input_unless_the_command_refuses_it(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Idle -> Discard")))
    src, _ = config_source.from_arguments(parse(["N=3"]))
    assert (src.text, src.filename) == ("Idle -> Discard", "<stdin>")
    with pytest.raises(config_source.SourceError, match=r"^give a configuration file \(or -e EXPR\)$"):
        config_source.from_arguments(parse([]), stdin=False)


@pytest.mark.parametrize("argv, message", [
    (["a.click", "b.click"], "too many configuration files: a.click b.click"),
    (["-f", "a.click", "b.click"], "too many configuration files: a.click b.click"),
    (["-e", "Idle", "a.click"], "both -e EXPR and a configuration file (a.click): give one"),
    (["nothere.click"], "nothere.click: No such file or directory"),
])
def test_errors_are_worded_once(argv, message):
    with pytest.raises(config_source.SourceError) as e:
        config_source.from_arguments(parse(argv))
    assert str(e.value) == message


@pytest.mark.parametrize("command", [["check"], ["flatten"], ["graph"], ["run"], ["deploy"], ["lab", "up"]])
def test_every_command_reports_the_same_errors(tmp_path, command):
    prog = "clickpy" if command[0] in ("check", "flatten", "graph") else "clickpy " + command[0]

    def run(*args):
        return subprocess.run([sys.executable, "-m", "clickpy", *command, *args],
                              capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL)

    r = run("nothere.click")
    assert (r.returncode, r.stderr) == (1, f"{prog}: nothere.click: No such file or directory\n")
    r = run("a.click", "b.click", "N=1")
    assert (r.returncode, r.stderr) == (1, f"{prog}: too many configuration files: a.click b.click\n")


def test_bench_reports_an_unreadable_file_as_the_others_do(tmp_path):
    r = subprocess.run([sys.executable, "-m", "clickpy", "bench", str(tmp_path)], capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (1, f"clickpy: {tmp_path}: Is a directory\n")
