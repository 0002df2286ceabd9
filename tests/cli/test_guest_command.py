"""clickpy build writes a guest image; clickpy inspect prints it; bad input is one clear line."""
import subprocess
import sys

from support import REPO


def clickpy(*args):
    return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True, timeout=60)


def test_build_then_inspect(tmp_path):
    out = tmp_path / "nat.guest"
    r = clickpy("build", str(REPO / "configs" / "nat-firewall.click"), "BLOCKED_PORT=2323", "-o", str(out),
                "--memory", "32M", "--export", "rw.tcp_table")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{out}: 40 elements, ports to-client, to-server, hash ")
    r = clickpy("inspect", str(out))
    assert r.returncode == 0, r.stderr
    assert "memory cap 32 MiB" in r.stdout and "exports    rw.tcp_table" in r.stdout
    assert "  fw :: IPFilter(1 tcp dst port 25, 1 dst net 192.0.2.0/24, 1 tcp dst port 2323, 0 all)   [1/2]" \
        in r.stdout


def test_a_configuration_with_errors_builds_nothing_and_says_where(tmp_path):
    out = tmp_path / "x.guest"
    r = clickpy("build", "-e", "Idle -> Countr -> Discard", "-o", str(out))
    assert r.returncode == 1 and "config:1:9: undeclared element 'Countr'" in r.stderr
    assert not out.exists()


def test_a_damaged_image_is_one_line_and_no_traceback(tmp_path):
    good = tmp_path / "good.guest"
    assert clickpy("build", "-e", "Idle -> Discard", "-o", str(good)).returncode == 0
    bad = tmp_path / "bad.guest"
    bad.write_bytes(good.read_bytes()[:60])
    r = clickpy("inspect", str(bad))
    assert r.returncode == 1 and r.stderr.startswith(f"clickpy: {bad}: damaged guest image")
    assert "Traceback" not in r.stderr
    r = clickpy("inspect", str(tmp_path / "missing.guest"))
    assert r.returncode == 1 and "No such file" in r.stderr
