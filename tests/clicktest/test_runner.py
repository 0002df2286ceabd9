import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from clickpy.clicktest import runner
from clickpy.clicktest.format import parse_clicktest
from clickpy.clicktest.runner import Outcome, run_test, run_test_file, run_tests, write_shims


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Give the runner its own temporary area, to check it leaves nothing behind."""
    area = tmp_path / "tmp"
    area.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(area))
    yield area
    assert list(area.iterdir()) == []


def write_test(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def run_text(tmp_path: Path, text: str | bytes, **options):
    return run_test_file(write_test(tmp_path, "t.clicktest", text), **options)


def running(pid: int) -> bool:
    """Whether a process is alive. A zombie has exited; only its reaping (by init) is pending."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_until_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- passing and failing -------------------------------------------------------


def test_passing_test(tmp_path):
    result = run_text(
        tmp_path,
        "%script\n"
        "echo hello\n"
        "printf 'warning: %s\\n' careful >&2\n"
        "cat dir/lib2 > OUT\n"
        "%file dir/lib2\n"
        "elementclass B { i :: Idle; }\n"
        "%expect stdout\n"
        "hello\n"
        "%expect stderr\n"
        "warning: {{\\w+}}\n"
        "%expect OUT\n"
        "elementclass B { i :: Idle; }\n",
    )
    assert result.outcome is Outcome.PASSED, result.reasons
    assert result.reasons == []


def test_failing_test_says_where_and_what(tmp_path):
    result = run_text(
        tmp_path,
        "%script\nprintf 'one\\nthree\\n'\necho oops >&2\n%expect stdout\none\ntwo\n",
        verbose=True,
    )
    assert result.outcome is Outcome.FAILED
    assert result.reasons == ["stdout differs at line 2"]
    diff, stderr = result.details
    assert "t.clicktest:6" in diff and "two" in diff
    assert "stdout:2" in diff and "three" in diff
    assert "oops" in stderr


def test_details_only_when_verbose(tmp_path):
    result = run_text(tmp_path, "%script\necho a\n%expect stdout\nb\n")
    assert result.outcome is Outcome.FAILED
    assert result.details == []


def test_every_command_must_succeed(tmp_path):
    result = run_text(tmp_path, "%script\necho before\nfalse\necho after\n%expect stdout\nbefore\n")
    assert result.outcome is Outcome.FAILED
    assert result.reasons == ["script exited with status 1"]


def test_missing_output_file(tmp_path):
    result = run_text(tmp_path, "%script\ntrue\n%expect OUT\nx\n")
    assert result.reasons == ["OUT was not created"]


def test_alternatives_through_the_runner(tmp_path):
    text = "%script\necho {}\n%expect -a stdout\nlinux\n%expect -a stdout\nbsd\n"
    assert run_text(tmp_path, text.format("bsd")).outcome is Outcome.PASSED
    assert run_text(tmp_path, text.format("mac")).outcome is Outcome.FAILED


def test_ignore_patterns_through_the_runner(tmp_path):
    result = run_text(
        tmp_path,
        "%script\necho 'expensive Click configuration' >&2\necho kept >&2\n"
        "%expect stderr\nkept\n%ignore\nexpensive{{.*}}\n",
    )
    assert result.outcome is Outcome.PASSED, result.reasons


# --- inputs --------------------------------------------------------------------


def test_binary_file_with_length(tmp_path):
    data = b"\x00\xff%file not a header\n\r\n\x00"
    text = (
        b"%script\ncat BIN > OUT\nwc -c < BIN\n"
        b"%file +" + str(len(data)).encode() + b" BIN\n" + data + b"\n"
        b"%expectv +" + str(len(data)).encode() + b" OUT\n" + data + b"\n"
        b"%expect -w stdout\n" + str(len(data)).encode() + b"\n"
    )
    result = run_text(tmp_path, text)
    assert result.outcome is Outcome.PASSED, result.reasons


def test_stdin_section_feeds_the_script(tmp_path):
    result = run_text(tmp_path, "%script\ngrep -c B.\n%stdin\nBfoo\nB\nBar\n%expect stdout\n2\n")
    assert result.outcome is Outcome.PASSED, result.reasons


def test_without_stdin_section_input_is_empty(tmp_path):
    result = run_text(tmp_path, "%script\ncat\nwc -c < /dev/stdin\n%expect -w stdout\n0\n")
    assert result.outcome is Outcome.PASSED, result.reasons


# --- requirements ----------------------------------------------------------------


def test_failing_requirement_skips_the_test(tmp_path):
    marker = tmp_path / "script-ran"
    result = run_text(
        tmp_path,
        f"%require\ntrue\n%require\nfalse\n%script\ntouch {shlex.quote(str(marker))}\n",
    )
    assert result.outcome is Outcome.SKIPPED
    assert result.reasons == ["requirement not met: false"]
    assert not marker.exists()


def test_quiet_requirement_gives_no_detail(tmp_path):
    result = run_text(tmp_path, "%require -q\nexit 3\n%script\ntrue\n")
    assert result.outcome is Outcome.SKIPPED
    assert result.reasons == ["requirement not met"]


def test_requirements_run_before_input_files_exist(tmp_path):
    result = run_text(tmp_path, "%require\ntest ! -e IN\n%script\ntest -e IN\n%file IN\nx\n")
    assert result.outcome is Outcome.PASSED, result.reasons


# --- environment and shims --------------------------------------------------------


def test_script_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_text(
        tmp_path,
        "%script\n"
        'test "$(command -v click)" = "$(dirname "$PWD")/bin/click"\n'
        'test -x "$(command -v click-flatten)"\n'
        'echo "$LC_ALL"\necho "$rundir"\n'
        "%expect stdout\nC\n" + str(tmp_path) + "\n",
    )
    assert result.outcome is Outcome.PASSED, result.reasons


def test_buildtool_shim_runs_this_clickpy(tmp_path, monkeypatch):
    # Only the feature names: they are answered without the element catalog.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    result = run_text(
        tmp_path,
        "%script\nclick-buildtool provides userlevel int64\n"
        "if click-buildtool provides ip6; then exit 1; fi\n",
    )
    assert result.outcome is Outcome.PASSED, result.reasons


def test_shims_exec_this_interpreter_in_click_compat_mode(tmp_path):
    write_shims(tmp_path)
    expected = {
        "click": '-m clickpy run "$@"',
        "click-flatten": '-m clickpy flatten "$@"',
        "click-buildtool": '-m clickpy.clicktest.buildtool "$@"',
    }
    for name, invocation in expected.items():
        shim = tmp_path / name
        lines = shim.read_text().splitlines()
        assert lines[0] == "#!/bin/sh"
        assert "CLICKPY_CLICK_COMPAT=1" in lines and "export CLICKPY_CLICK_COMPAT" in lines
        assert lines[-1] == f"exec {shlex.quote(sys.executable)} {invocation}"
        assert os.access(shim, os.X_OK)
        assert subprocess.run(["sh", "-n", str(shim)]).returncode == 0


# --- processes and cleanup --------------------------------------------------------


def test_timeout_kills_the_script_and_its_children(tmp_path):
    pid_file = tmp_path / "sleep.pid"
    started = time.monotonic()
    result = run_text(
        tmp_path,
        f"%script\nsleep 30 &\necho $! > {shlex.quote(str(pid_file))}\nwait\n",
        timeout=2,  # long enough for a loaded machine to start the script
    )
    assert time.monotonic() - started < 10
    assert result.outcome is Outcome.FAILED
    assert result.reasons == ["timed out after 2 s"]
    assert wait_until_gone(int(pid_file.read_text()))


def test_background_process_may_finish_its_output(tmp_path):
    result = run_text(tmp_path, "%script\n(sleep 0.3; echo late > OUT) &\n%expect OUT\nlate\n")
    assert result.outcome is Outcome.PASSED, result.reasons


def test_lingering_background_process_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "LINGER_GRACE", 0.2)
    pid_file = tmp_path / "sleep.pid"
    result = run_text(tmp_path, f"%script\nsleep 30 &\necho $! > {shlex.quote(str(pid_file))}\n")
    assert result.outcome is Outcome.PASSED, result.reasons
    assert wait_until_gone(int(pid_file.read_text()))


def test_temporary_directory_is_removed_unless_kept(tmp_path, private_tempdir):
    where = tmp_path / "where"
    text = f"%script\npwd > {shlex.quote(str(where))}\n"
    assert run_text(tmp_path, text).kept_dir is None
    work = Path(where.read_text().strip())
    assert work.parent.parent == private_tempdir
    assert not work.exists()

    kept = run_text(tmp_path, text, keep=True)
    try:
        assert Path(kept.kept_dir, "work") == Path(where.read_text().strip())
        assert Path(kept.kept_dir, "work").is_dir()
    finally:
        subprocess.run(["rm", "-rf", kept.kept_dir], check=True)


# --- malformed tests and several files ----------------------------------------------


def test_malformed_test_is_an_error(tmp_path):
    result = run_text(tmp_path, "%script\ntrue\n%bogus\n")
    assert result.outcome is Outcome.ERROR
    assert result.reasons == [
        f"malformed test: {tmp_path / 't.clicktest'}:3: unknown section '%bogus'"
    ]


def test_missing_test_file_is_an_error(tmp_path):
    result = run_test_file(tmp_path / "absent.clicktest")
    assert result.outcome is Outcome.ERROR
    assert result.reasons == ["cannot read test: No such file or directory"]


def test_run_tests_searches_directories_in_order(tmp_path):
    suite = tmp_path / "suite"
    (suite / "b").mkdir(parents=True)
    write_test(suite / "b", "z.clicktest", "%script\ntrue\n")
    write_test(suite, "a.clicktest", "%script\nfalse\n")
    write_test(suite, "notes.txt", "not a test")
    reported = []
    results = run_tests([suite], on_result=reported.append)
    assert [Path(result.path).relative_to(suite).as_posix() for result in results] == [
        "a.clicktest",
        "b/z.clicktest",
    ]
    assert [result.outcome for result in results] == [Outcome.FAILED, Outcome.PASSED]
    assert reported == results


def test_run_test_on_parsed_data():
    test = parse_clicktest(b"%script\necho hi\n%expect stdout\nhi\n", source="inline")
    result = run_test(test)
    assert (result.path, result.outcome) == ("inline", Outcome.PASSED)
