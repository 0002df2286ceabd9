"""The clickpy command line, run as a user runs it (a subprocess)."""
import shutil
import subprocess
import sys

import pytest


def clickpy(*args, stdin=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "clickpy", *args], input=stdin, capture_output=True, text=True, cwd=cwd
    )


def assert_clean_error(proc, *expected):
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    for e in expected:
        assert e in lines, proc.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        ("elementclass A {\n  input -> output\n", "bad.click:1:16: unbalanced '{': compound element is never closed"),
        ("a :: Message(\"hello);\nb :: Idle;\n", 'bad.click:1:14: unterminated string: no closing " for this "'),
        ("x :: Cuonter(1);\n", "bad.click:1:1: unknown element class 'Cuonter'; did you mean 'Counter'?"),
        ("elementclass P { input -> output }\nIdle -> p :: P;\nIdle -> [1] p -> Discard;\n", "bad.click:2:9: 'p' has no input 1"),
        ("elementclass R {\n  input -> R -> output\n}\nIdle -> R -> Discard\n",
         "bad.click:2:12: element class 'R' is used inside its own definition (element classes are not recursive)"),
        ("require(library missing.click)\n", "bad.click:1:1: library 'missing.click' not found in the including file's directory"),
        ("a -> b }\n", "bad.click:1:8: syntax error near '}'"),
    ],
)
def test_check_reports_bad_input_at_its_landmark(tmp_path, text, message):
    (tmp_path / "bad.click").write_text(text)
    proc = clickpy("check", "bad.click", cwd=tmp_path)
    assert_clean_error(proc, message)


def test_check_reports_every_error_in_one_pass(tmp_path):
    (tmp_path / "two.click").write_text("x :: Nope1;\ny :: Nope2;\n")
    proc = clickpy("check", "two.click", cwd=tmp_path)
    assert proc.returncode == 1
    assert [line.split(":")[1] for line in proc.stderr.splitlines()] == ["1", "2"]


def test_check_configures_what_exists_beside_a_missing_class():
    """A class clickpy lacks does not hide the other elements' errors; the
    missing one is not configured (its arguments are not ours to judge)."""
    proc = clickpy("check", "-e", "a :: NoSuchThing(42) -> q :: Queue(-3) -> Discard; Idle -> ToHost")
    assert_clean_error(proc, "config:1:1: unknown element class 'NoSuchThing'",
                       "config:1:25: While configuring 'q :: Queue':",
                       "  CAPACITY: expected unsigned integer",
                       "  DEVNAME: required argument missing")
    assert proc.stderr.count("While configuring") == 2


def test_check_accepts_a_valid_config():
    proc = clickpy("check", "-e", "elementclass Nothing { input -> output }")
    assert proc.returncode == 0, proc.stderr
    assert "ok (0 elements" in proc.stderr
    assert clickpy("check", "-q", "-e", "").stderr == ""


def test_missing_file_is_a_clear_error(tmp_path):
    proc = clickpy("check", "nothere.click", cwd=tmp_path)
    assert_clean_error(proc, "clickpy: nothere.click: No such file or directory")


def test_flatten_expands_compounds_and_keeps_the_files_parameters(tmp_path):
    (tmp_path / "f.click").write_text(
        "define($N 1)\nelementclass C { $x | input -> Paint($x) -> output }\n"
        "InfiniteSource -> C($N) -> Discard;\n"
    )
    proc = clickpy("flatten", "f.click", "N=7", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "define($N 7);\n\n"
        "InfiniteSource@1 :: InfiniteSource;\n"
        "Discard@3 :: Discard;\n"
        "C@2/Paint@1 :: Paint($N);\n\n"
        "InfiniteSource@1 -> C@2/Paint@1\n    -> Discard@3;\n"
    )
    proc = clickpy("flatten", "--expand-vars", "f.click", "N=7", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "define" not in proc.stdout and "C@2/Paint@1 :: Paint(7);" in proc.stdout


def test_a_flattened_config_runs_with_new_parameter_values(tmp_path):
    (tmp_path / "f.click").write_text(
        "define($N 2)\nelementclass Src { $n | InfiniteSource(LIMIT $n, STOP true) -> output }\n"
        "Src($N) -> c :: Counter -> Discard;\n"
    )
    flat = clickpy("flatten", "f.click", cwd=tmp_path)
    assert flat.returncode == 0, flat.stderr
    (tmp_path / "flat.click").write_text(flat.stdout)
    for args, count in [((), "2"), (("N=9",), "9")]:
        proc = clickpy("run", "flat.click", *args, "-h", "c.count", cwd=tmp_path)
        assert (proc.returncode, proc.stdout) == (0, count + "\n"), proc.stderr
    proc = clickpy("check", "flat.click", "N=x", cwd=tmp_path)
    assert proc.returncode == 1 and "LIMIT" in proc.stderr


def test_flatten_reads_stdin_and_writes_a_file(tmp_path):
    proc = clickpy("flatten", "-o", "out.click", stdin="a :: Idle -> b :: Discard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.click").read_text() == "a :: Idle;\nb :: Discard;\n\na -> b;\n"


def test_flatten_with_landmarks_keeps_error_locations(tmp_path):
    (tmp_path / "f.click").write_text("\n\nx :: Nope;\n")
    flat = clickpy("flatten", "--landmarks", "f.click", cwd=tmp_path).stdout
    (tmp_path / "flat.click").write_text(flat)
    proc = clickpy("check", "flat.click", cwd=tmp_path)
    assert "f.click:3:1: unknown element class 'Nope'" in proc.stderr


def test_flatten_error_exit(tmp_path):
    proc = clickpy("flatten", "-e", "a -> ;")
    assert_clean_error(proc, "config:1:6: syntax error near ';'")


def test_click_compat_drops_columns():
    proc = subprocess.run(
        [sys.executable, "-m", "clickpy", "flatten", "-e", "\na -> ;"],
        capture_output=True, text=True, env={**__import__("os").environ, "CLICKPY_CLICK_COMPAT": "1"},
    )
    assert proc.stderr.splitlines() == ["config:2: syntax error near ';'"]


def test_graph_dot(tmp_path):
    proc = clickpy("graph", "-e", "s :: Idle -> q :: Queue; s [1] -> [1] q", "-o", "g.dot", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith('digraph "config" {')
    assert '"s" -> "q";' in dot
    assert '"s" -> "q" [taillabel="1", headlabel="1"];' in dot
    assert '"q" [label="q\\n:: Queue"];' in dot


def test_graph_draws_compounds_as_nested_clusters(tmp_path):
    config = ("elementclass C { input -> q :: Queue -> u :: Unqueue -> output }; "
              "x :: { input -> y :: C -> output }; Idle -> x -> Discard")
    dot = clickpy("graph", "-e", config, cwd=tmp_path).stdout
    outer, inner = dot.index('subgraph "cluster_x" {'), dot.index('subgraph "cluster_x/y" {')
    assert outer < inner < dot.index('"x/y/q" [label="q\\n:: Queue"];')
    assert '"Idle@2" -> "x/y/q";' in dot


def test_graph_output_of_unknown_format_says_which_formats(tmp_path):
    proc = clickpy("graph", "-e", "Idle -> Discard", "-o", "x.txt", cwd=tmp_path)
    assert_clean_error(proc)
    assert "cannot tell the format from '.txt'" in proc.stderr and not (tmp_path / "x.txt").exists()


def test_graph_svg(tmp_path):
    proc = clickpy("graph", "-e", "Idle -> Discard", "-o", "g.svg", cwd=tmp_path)
    if shutil.which("dot"):
        assert proc.returncode == 0, proc.stderr
        assert "<svg" in (tmp_path / "g.svg").read_text()
    else:
        assert_clean_error(proc)
        assert "Graphviz 'dot' is not installed" in proc.stderr


def test_check_configures_every_element_as_run_q_does(tmp_path):
    """'check' reports what 'run -q' would: element configuration errors too."""
    import subprocess
    import sys

    for config, message in [("Idle -> Queue(x) -> Discard", "CAPACITY: expected unsigned integer"),
                            ("Idle -> IPFilter(frob all) -> Discard", "unknown action 'frob'")]:
        r = subprocess.run([sys.executable, "-m", "clickpy", "check", "-e", config],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert "config:1:9: While configuring" in r.stderr and message in r.stderr
    # configuring opens nothing: a FromDump of a missing file is only initialize's concern
    r = subprocess.run([sys.executable, "-m", "clickpy", "check", "-e",
                        f"FromDump({tmp_path}/none.pcap) -> Discard"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_bench_refuses_counts_below_one():
    for flag in ("--limit", "--rounds", "--burst"):
        proc = clickpy("bench", "infsrc", flag, "-5")
        assert proc.returncode == 2 and f"argument {flag}: -5: must be at least 1" in proc.stderr
