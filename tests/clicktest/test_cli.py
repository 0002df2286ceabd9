import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import clickpy
from clickpy.clicktest.cli import main, read_test_list

PASSING = "%script\necho hi\n%expect stdout\nhi\n"
FAILING = "%script\necho hi >&2\necho bye\n%expect stdout\nhi\n"
SKIPPED = "%require\nfalse\n%script\ntrue\n"
CLICKPY_ROOT = str(Path(clickpy.__file__).resolve().parent.parent)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_one_line_per_test_and_summary(tmp_path, capsys):
    good = write(tmp_path / "good.clicktest", PASSING)
    bad = write(tmp_path / "bad.clicktest", FAILING)
    skip = write(tmp_path / "skip.clicktest", SKIPPED)
    assert main([str(good), str(bad), str(skip)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"PASS {good}",
        f"FAIL {bad}: stdout differs at line 1",
        f"SKIP {skip}: requirement not met: false",
        "1 passed, 1 failed, 1 skipped",
    ]


def test_success_exit_status_and_summary_without_skips(tmp_path, capsys):
    write(tmp_path / "suite" / "a.clicktest", PASSING)
    write(tmp_path / "suite" / "sub" / "b.clicktest", PASSING)
    assert main([str(tmp_path / "suite")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 passed, 0 failed"


def test_skips_alone_do_not_fail(tmp_path, capsys):
    assert main([str(write(tmp_path / "s.clicktest", SKIPPED))]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 passed, 0 failed, 1 skipped"


def test_verbose_shows_difference_and_stderr(tmp_path, capsys):
    bad = write(tmp_path / "bad.clicktest", FAILING)
    assert main(["-v", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:5" in out and "stdout:1" in out and "bye" in out
    assert "script stderr:" in out and "    " + "  hi" in out


def test_malformed_test_counts_as_failed(tmp_path, capsys):
    broken = write(tmp_path / "broken.clicktest", "%script\ntrue\n%nope\n")
    assert main([str(broken)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"FAIL {broken}: malformed test: {broken}:3: unknown section '%nope'",
        "0 passed, 1 failed",
    ]


def test_long_reason_lists_are_shortened(tmp_path, capsys):
    names = ["A", "B", "C", "D", "E"]
    test = write(
        tmp_path / "many.clicktest", "%script\ntrue\n" + "".join(f"%expect {n}\nx\n" for n in names)
    )
    main([str(test)])
    first = capsys.readouterr().out.splitlines()[0]
    assert (
        first == f"FAIL {test}: A was not created; B was not created; C was not created; and 2 more"
    )


def test_list_file(tmp_path, capsys):
    good = write(tmp_path / "tests" / "good.clicktest", PASSING)
    other = write(tmp_path / "elsewhere" / "other.clicktest", PASSING)
    listing = write(
        tmp_path / "lists" / "must-pass.txt",
        f"# must pass\n\n../tests/good.clicktest   # relative to the list\n{other}\n",
    )
    assert read_test_list(listing) == [str(good), str(other)]
    assert main(["--list", str(listing)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"PASS {good}",
        f"PASS {other}",
        "2 passed, 0 failed",
    ]


def test_missing_entry_in_list_fails(tmp_path, capsys):
    listing = write(tmp_path / "list.txt", "gone.clicktest\n")
    assert main(["--list", str(listing)]) == 1
    assert f"FAIL {tmp_path / 'gone.clicktest'}: cannot read test" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no tests given"),
        (
            ["--list", "/nonexistent/list.txt", "x"],
            "cannot read list /nonexistent/list.txt: No such file or directory",
        ),
        (["--timeout", "0", "x"], "the timeout must be positive"),
        (["--timeout", "soon", "x"], "not a number of seconds"),
    ],
)
def test_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_timeout_option(tmp_path, capsys):
    slow = write(tmp_path / "slow.clicktest", "%script\nsleep 5\n")
    assert main(["--timeout", "0.5", str(slow)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == f"FAIL {slow}: timed out after 0.5 s"


def test_keep_reports_the_directory(tmp_path, capsys):
    good = write(tmp_path / "good.clicktest", PASSING)
    main(["-k", str(good)])
    kept_line = capsys.readouterr().out.splitlines()[1]
    assert kept_line.startswith("    kept ")
    kept = Path(kept_line.removeprefix("    kept "))
    assert (kept / "work").is_dir()
    subprocess.run(["rm", "-rf", str(kept)], check=True)


def _module_environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=CLICKPY_ROOT, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def test_python_dash_m(tmp_path):
    good = write(tmp_path / "good.clicktest", PASSING)
    done = subprocess.run(
        [sys.executable, "-m", "clickpy.clicktest", str(good)],
        capture_output=True,
        text=True,
        env=_module_environment(tmp_path),
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout) == (0, f"PASS {good}\n1 passed, 0 failed\n")


def test_interrupt_kills_the_script_and_cleans_up(tmp_path):
    pid_file = tmp_path / "sleep.pid"
    test = write(
        tmp_path / "hang.clicktest",
        f"%script\nsleep 30 &\necho $! > {shlex.quote(str(pid_file))}\nwait\n",
    )
    runner = subprocess.Popen(
        [sys.executable, "-m", "clickpy.clicktest", str(test)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_module_environment(tmp_path),
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, "the test script never started"
            time.sleep(0.02)
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=10)
    finally:
        runner.kill()
    assert runner.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    sleeper = Path(f"/proc/{int(pid_file.read_text())}/stat")
    deadline = time.monotonic() + 5
    while sleeper.exists() and sleeper.read_text().split(")")[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the script's child survived the interrupt"
        time.sleep(0.02)
    assert list((tmp_path / "tmp").iterdir()) == []
