"""tests/netns.py: a Lab removes its namespaces, their interfaces and its
processes however the block is left, an exception included."""
import os
import subprocess
import sys

import pytest
from netns import NETNS_DIR, PREFIX, Lab, is_root, sweep_stale

pytestmark = [pytest.mark.root, pytest.mark.skipif(not is_root(), reason="needs root (network namespaces)")]


def _ours(tag):
    try:
        return [n for n in os.listdir(NETNS_DIR) if n.startswith(tag)]
    except FileNotFoundError:
        return []


def _host_links():
    return subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout


class Boom(Exception):
    pass


def test_everything_goes_when_the_block_raises():
    with pytest.raises(Boom):
        with Lab() as lab:
            a, b = lab.namespace("a"), lab.namespace("b")
            lab.veth(a, "clkta0", b, "clktb0")
            a.addr("clkta0", "10.77.0.1/24")
            sleeper = a.popen(["sleep", "600"])
            tag = lab.tag
            assert len(_ours(tag)) == 2
            assert a.run(["ip", "link", "show", "clkta0"]).returncode == 0
            raise Boom()
    assert _ours(tag) == []
    assert sleeper.poll() is not None            # stopped, by its PID
    assert "clkta0" not in _host_links() and "clktb0" not in _host_links()
    assert lab.namespaces == [] and lab.processes == []


def test_everything_goes_when_a_test_fails_inside():
    """The pytest fixture: the lab of a failing test is still removed (run a
    failing test in a child pytest and look afterwards)."""
    test = (
        "import pytest\n"
        "from netns import lab\n"
        "def test_fails(lab):\n"
        "    ns = lab.namespace('f')\n"
        "    print('TAG', lab.tag, flush=True)\n"
        "    assert False, 'on purpose'\n"
    )
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"clickpy_lab_{os.getpid()}_test.py")
    with open(path, "w") as f:
        f.write(test)
    try:
        tests_dir = os.path.dirname(os.path.abspath(__file__))
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                            "--rootdir", os.path.dirname(path), path],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": tests_dir})
    finally:
        os.unlink(path)
    assert r.returncode == 1 and "on purpose" in r.stdout, r.stdout + r.stderr
    tag = r.stdout.split("TAG ", 1)[1].split()[0]
    assert tag.startswith(PREFIX)
    assert _ours(tag) == []


def test_a_lab_left_by_a_killed_process_is_swept():
    """Names carry the owner's PID: the next Lab removes those whose owner is gone."""
    dead_pid = 2 ** 22 - 7      # above pid_max's default range: no such process
    name = f"{PREFIX}{dead_pid}-1-x"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert name in sweep_stale()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    assert name not in _ours(PREFIX)
