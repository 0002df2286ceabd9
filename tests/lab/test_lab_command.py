"""clickpy lab up/exec/status/read/down: the topology it builds, and that
down removes everything it made (namespaces and processes)."""
import os
import subprocess
import sys

import pytest
from netns import is_root, sweep_stale, wait_for
from support import REPO

pytestmark = pytest.mark.root


@pytest.fixture
def cli(tmp_path):
    if not is_root():
        pytest.skip("needs root (network namespaces)")
    sweep_stale()
    name = f"clkt{os.getpid()}-cli"
    state = str(tmp_path / "state")

    def run(*args, timeout=120):
        return subprocess.run([sys.executable, "-m", "clickpy", "lab", "--name", name,
                               "--state-dir", state, *args], capture_output=True, text=True,
                              timeout=timeout)
    run.name = name
    yield run
    run("down")
    for role in ("client", "middlebox", "server"):
        assert not os.path.exists(f"/run/netns/{name}-{role}")


def test_up_without_config_exec_status_down(cli):
    host_links = set(os.listdir("/sys/class/net"))
    r = cli("up")
    assert r.returncode == 0, r.stderr
    assert "clickpy lab" in r.stdout and "exec client" in r.stdout   # says what to try
    # Only the namespaces' own links: nothing new in the host namespace.
    assert set(os.listdir("/sys/class/net")) == host_links
    r = cli("exec", "client", "ip", "-o", "-4", "addr", "show", "dev", "eth0")
    assert "10.0.1.2/24" in r.stdout
    r = cli("exec", "server", "ip", "-o", "-4", "addr", "show", "dev", "eth0")
    assert "10.0.2.2/24" in r.stdout and "10.0.2.3/24" in r.stdout
    assert "default via 10.0.2.1 dev eth0" in cli("exec", "server", "ip", "route").stdout
    assert "default via 10.0.1.1 dev eth0" in cli("exec", "client", "ip", "route").stdout
    mb = cli("exec", "middlebox", "ip", "-o", "link").stdout
    assert "to-client" in mb and "to-server" in mb
    assert cli("exec", "middlebox", "ip", "-4", "addr").stdout.count("inet ") == 1   # lo only
    assert cli("exec", "middlebox", "ip", "route").stdout.strip() == ""
    # The exit status of the command comes back.
    assert cli("exec", "client", "sh", "-c", "exit 3").returncode == 3
    r = cli("status")
    assert r.returncode == 0 and "no configuration" in r.stdout
    # Going up twice is an error that names the way out.
    r = cli("up")
    assert r.returncode == 1 and "already up" in r.stderr


def test_down_stops_middlebox_and_processes_started_with_exec(cli, tmp_path):
    r = cli("up", str(REPO / "configs" / "ip-router.click"))
    assert r.returncode == 0, r.stderr
    r = cli("read", "dt0.drops")
    assert r.returncode == 0 and r.stdout.strip() == "0"
    sleeper = subprocess.Popen([sys.executable, "-m", "clickpy", "lab", "--name", cli.name,
                                "--state-dir", str(tmp_path / "state"), "exec", "server", "sleep", "600"])
    try:
        assert wait_for(lambda: os.path.exists(f"/proc/{sleeper.pid}")
                        and os.readlink(f"/proc/{sleeper.pid}/ns/net")
                        != os.readlink("/proc/self/ns/net"), 10)
        r = cli("status")
        assert "running" in r.stdout
        r = cli("down")
        assert r.returncode == 0, r.stderr
        assert "stopped the middlebox" in r.stdout and f"({sleeper.pid})" in r.stdout
        assert sleeper.wait(10) is not None
        assert cli("status").returncode == 1
        assert cli("down").returncode == 1
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_up_with_a_broken_config_reports_and_leaves_nothing(cli, tmp_path):
    bad = tmp_path / "bad.click"
    bad.write_text("FromDevice($CLIENT_DEV) -> NoSuchElement;\n")
    r = cli("up", str(bad))
    assert r.returncode == 1
    assert "did not start" in r.stderr and "NoSuchElement" in r.stderr
    assert not any(os.path.exists(f"/run/netns/{cli.name}-{role}")
                   for role in ("client", "middlebox", "server"))


def test_up_takes_run_flags_and_a_reload_through_the_extra_socket(cli, tmp_path):
    extra = tmp_path / "mine.ctl"
    r = cli("up", str(REPO / "configs" / "stateless-firewall.click"), "-u", str(extra), "-R")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: extra.exists(), 60)
    client = [sys.executable, "-m", "clickpy"]
    r = subprocess.run([*client, "read", str(extra), "out_denied.count"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "0\n"), r.stderr
    # -R: the middlebox takes a new configuration through that socket
    r = subprocess.run([*client, "write", str(extra), "hotconfig", "Idle -> c :: Counter -> Discard"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*client, "read", str(extra), "c.count"], capture_output=True, text=True)
    assert r.stdout == "0\n", r.stderr
