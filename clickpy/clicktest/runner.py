"""Running `.clicktest` tests with clickpy standing in for Click.

Each test runs in a fresh temporary directory laid out as::

    bin/     shims named click, click-flatten, click-buildtool (first on PATH)
    work/    the script's working directory, holding the %file inputs
    *.sh, *.stdout, *.stderr   the scripts and their captured output

``%require`` scripts run first, in the still empty ``work/``; if one fails
the test is skipped. Then ``%script`` runs under ``/bin/sh -e`` (so every
command must succeed, as Click's tester demands) in its own session: on
timeout or interrupt, and after it exits, its whole process group is killed,
so no background process outlives the test.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import clickpy
from clickpy.clicktest.format import (
    STDERR,
    STDOUT,
    ClickTest,
    ClickTestFormatError,
    parse_clicktest,
)
from clickpy.clicktest.match import compare_output

DEFAULT_TIMEOUT = 60.0  # seconds, for each %require script and for %script
# How long background processes started by a script may run on after it
# exits, to finish writing output (Click tests kill a backgrounded click and
# then check what it wrote).
LINGER_GRACE = 2.0
_POLL_INTERVAL = 0.02
_STDERR_TAIL_LINES = 40  # of the script's stderr shown for a failure

# Shim name -> the Python module arguments it runs.
SHIMS = {
    "click": ("clickpy", "run"),
    "click-flatten": ("clickpy", "flatten"),
    "click-buildtool": ("clickpy.clicktest.buildtool",),
}


class Outcome(enum.Enum):
    """How a test ended; the value is the label the report uses."""

    PASSED = "PASS"
    FAILED = "FAIL"
    SKIPPED = "SKIP"
    ERROR = "ERROR"  # the test file is malformed or unreadable


@dataclass
class TestResult:
    """The outcome of one test file, with reasons fit for a one-line report."""

    __test__ = False  # not a pytest test class, despite the name

    path: str
    outcome: Outcome
    reasons: list[str] = field(default_factory=list)  # one line each
    details: list[str] = field(default_factory=list)  # multi-line; filled when verbose
    kept_dir: str | None = None  # the temporary directory, when kept


@dataclass(frozen=True)
class _ShellRun:
    status: int | None  # None: timed out
    stdout: bytes
    stderr: bytes


def write_shims(bin_dir: Path) -> None:
    """Write the ``click``-family shims, which run clickpy with this interpreter."""
    for name, module_arguments in SHIMS.items():
        shim = bin_dir / name
        shim.write_text(
            "#!/bin/sh\n"
            f"# {name} for clicktest scripts: clickpy in Click-compatible mode.\n"
            "CLICKPY_CLICK_COMPAT=1\n"
            "export CLICKPY_CLICK_COMPAT\n"
            f'exec {shlex.quote(sys.executable)} -m {" ".join(module_arguments)} "$@"\n'
        )
        shim.chmod(0o755)


def _script_environment(bin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    # As Click's tester does: without it, sort and friends vary between machines.
    env["LC_ALL"] = "C"
    env["rundir"] = os.getcwd()  # the manual promises scripts this variable
    # The shims must import the clickpy running this test, even from a source
    # tree that is not installed; anything already on PYTHONPATH stays after it.
    clickpy_root = str(Path(clickpy.__file__).resolve().parent.parent)
    inherited = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([clickpy_root, inherited]) if inherited else clickpy_root
    return env


def _group_has_live_members(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    # Orphaned zombies still count as members until init reaps them, which
    # some container inits never do; on Linux, look past them.
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_bytes()
        except OSError:
            continue
        # Fields after "(command)": state, parent, process group, ...
        state, _parent, process_group = stat[stat.rfind(b")") + 2 :].split()[:3]
        if int(process_group) == group and state != b"Z":
            return True
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already empty
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def _interrupt_held() -> Iterator[None]:
    """Hold back Ctrl-C while a script starts, and deliver it afterwards.

    An interrupt inside ``Popen()`` would lose the new process's id, and with
    it the means to kill the group it starts.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread handles signals
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def _run_shell(
    label: str, script: str, root: Path, env: dict[str, str], stdin: bytes | None, timeout: float
) -> _ShellRun:
    """Run ``script`` with /bin/sh -e in ``root/work``; files for it are named after ``label``."""
    script_path = root / f"{label}.sh"
    script_path.write_bytes(script.encode("utf-8", "surrogateescape"))
    stdin_path = Path(os.devnull)
    if stdin is not None:
        stdin_path = root / f"{label}.stdin"
        stdin_path.write_bytes(stdin)
    stdout_path = root / f"{label}.stdout"
    stderr_path = root / f"{label}.stderr"
    process = None
    try:
        # Output goes to files, not pipes: a background process holding a pipe
        # open would make reading it wait for that process.
        with (
            _interrupt_held(),
            open(stdin_path, "rb") as stdin_file,
            open(stdout_path, "wb") as stdout_file,
            open(stderr_path, "wb") as stderr_file,
        ):
            process = subprocess.Popen(
                ["/bin/sh", "-e", str(script_path)],
                cwd=root / "work",
                env=env,
                stdin=stdin_file,
                stdout=stdout_file,
                stderr=stderr_file,
                start_new_session=True,  # its own process group, to kill it whole
            )
        status: int | None = process.wait(timeout=timeout)
        deadline = time.monotonic() + LINGER_GRACE
        while time.monotonic() < deadline and _group_has_live_members(process.pid):
            time.sleep(_POLL_INTERVAL)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        if process is not None:
            _kill_group(process)
    return _ShellRun(status, stdout_path.read_bytes(), stderr_path.read_bytes())


def _describe_status(status: int) -> str:
    if status < 0:
        return f"script killed by signal {-status}"
    return f"script exited with status {status}"


def _stderr_detail(what: str, stderr: bytes) -> list[str]:
    lines = stderr.decode("utf-8", "backslashreplace").splitlines()
    if not lines:
        return []
    shown = lines[-_STDERR_TAIL_LINES:]
    heading = f"{what} stderr" + (
        f" (last {len(shown)} of {len(lines)} lines)" if len(shown) < len(lines) else ""
    )
    return [heading + ":\n" + "\n".join("  " + line for line in shown)]


def _summarize_script(script: str, limit: int = 100) -> str:
    summary = "; ".join(line.strip() for line in script.splitlines() if line.strip())
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."


def _write_inputs(test: ClickTest, work: Path) -> None:
    for name, data in test.files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _read_output(name: str, run: _ShellRun, work: Path) -> bytes:
    if name == STDOUT:
        return run.stdout
    if name == STDERR:
        return run.stderr
    return (work / name).read_bytes()


def run_test(
    test: ClickTest, *, verbose: bool = False, keep: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> TestResult:
    """Run one parsed test in a fresh temporary directory.

    ``verbose`` fills ``details`` with differences and the script's stderr;
    ``keep`` leaves the temporary directory in place (``kept_dir``).
    """
    root = Path(tempfile.mkdtemp(prefix="clicktest-"))
    try:
        result = _run_in(test, root, verbose=verbose, timeout=timeout)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if keep:
        result.kept_dir = str(root)
    return result


def _run_in(test: ClickTest, root: Path, *, verbose: bool, timeout: float) -> TestResult:
    bin_dir = root / "bin"
    work = root / "work"
    bin_dir.mkdir()
    work.mkdir()
    write_shims(bin_dir)
    env = _script_environment(bin_dir)

    # Requirements run before any input file exists, as the manual specifies.
    for number, requirement in enumerate(test.requires, 1):
        run = _run_shell(f"require{number}", requirement.script, root, env, None, timeout)
        if run.status == 0:
            continue
        reason = "requirement not met"
        if run.status is None:
            reason += f" (timed out after {timeout:g} s)"
        if requirement.quiet:
            return TestResult(test.source, Outcome.SKIPPED, [reason])
        details = _stderr_detail("requirement", run.stderr) if verbose else []
        return TestResult(
            test.source,
            Outcome.SKIPPED,
            [f"{reason}: {_summarize_script(requirement.script)}"],
            details,
        )

    try:
        _write_inputs(test, work)
    except OSError as error:
        return TestResult(
            test.source,
            Outcome.ERROR,
            [f"cannot create input file {error.filename}: {error.strerror}"],
        )

    run = _run_shell("script", test.script, root, env, test.stdin, timeout)
    reasons: list[str] = []
    details: list[str] = []
    if run.status is None:
        reasons.append(f"timed out after {timeout:g} s")
    else:
        if run.status != 0:
            reasons.append(_describe_status(run.status))
        for name, expectations in test.expectations.items():
            try:
                actual = _read_output(name, run, work)
            except FileNotFoundError:
                reasons.append(f"{name} was not created")
                continue
            except OSError as error:
                reasons.append(f"cannot read {name}: {error.strerror}")
                continue
            mismatch = compare_output(name, actual, expectations, test.ignores_for(name))
            if mismatch is not None:
                reasons.append(mismatch.summary)
                details.append(mismatch.detail)
    if not reasons:
        return TestResult(test.source, Outcome.PASSED)
    if not verbose:
        return TestResult(test.source, Outcome.FAILED, reasons)
    details += _stderr_detail("script", run.stderr)
    return TestResult(test.source, Outcome.FAILED, reasons, details)


def collect_test_files(paths: Iterable[str | Path]) -> list[Path]:
    """The given files, with directories replaced by their ``*.clicktest`` files (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(child for child in path.rglob("*.clicktest") if child.is_file()))
        else:
            found.append(path)
    return found


def run_test_file(
    path: str | Path, *, verbose: bool = False, keep: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> TestResult:
    """Parse and run one test file; a malformed or unreadable file gives an ERROR result."""
    try:
        test = parse_clicktest(path)
    except ClickTestFormatError as error:
        return TestResult(str(path), Outcome.ERROR, [f"malformed test: {error}"])
    except OSError as error:
        return TestResult(str(path), Outcome.ERROR, [f"cannot read test: {error.strerror}"])
    return run_test(test, verbose=verbose, keep=keep, timeout=timeout)


def run_tests(
    paths: Iterable[str | Path],
    *,
    verbose: bool = False,
    keep: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run test files and directories of them, in order.

    ``on_result`` is called as each test finishes, to report progress.
    """
    results = []
    for path in collect_test_files(paths):
        result = run_test_file(path, verbose=verbose, keep=keep, timeout=timeout)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
