"""clickpy reload TARGET CONFIG: a running router (-R) takes a new configuration;
--dry-run says what would change and for which traffic, and changes nothing."""
import subprocess
import sys
import time

import pytest
from support import start_router

FIREWALL = """src :: RatedSource(\\<45000028 00010000 40060000 0a000001 0a000002 04d20050 00000000 00000000 50020000 00000000>,
                      RATE 500, LIMIT -1)
  -> c :: Counter -> MarkIPHeader
  -> rules :: IPFilter(allow src net 10.0.0.0/8 && dst port 80, deny all)
  -> out :: Counter -> Discard;
"""


def clickpy(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def router(tmp_path):
    sock = tmp_path / "ctl"
    proc = start_router(FIREWALL, sock, "-R")
    yield sock
    proc.terminate()
    proc.communicate(timeout=30)


def _count(sock, handler):
    return int(clickpy("read", str(sock), handler).stdout)


def test_a_dry_run_shows_the_diff_and_which_traffic_changes_fate_and_changes_nothing(router, tmp_path):
    new = tmp_path / "new.click"
    new.write_text(FIREWALL.replace("dst port 80", "dst port 443"))
    r = clickpy("reload", "--dry-run", str(router), str(new))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "replace     rules :: IPFilter  (configuration changed)" in lines
    assert "policy of rules :: IPFilter:" in lines
    policy = "\n".join(lines[lines.index("policy of rules :: IPFilter:"):])
    assert "was output 0 (allow), now dropped (deny)" in policy and ":80" in policy
    assert "was dropped (deny), now output 0 (allow)" in policy and ":443" in policy
    assert "for example 45" in policy                      # an IPv4 packet, in hex
    assert clickpy("read", str(router), "rules.config").stdout.strip().endswith("deny all")
    assert "dst port 80," in clickpy("read", str(router), "rules.config").stdout


def test_a_reload_replaces_the_filter_keeps_the_rest_and_prints_the_report(router, tmp_path):
    time.sleep(0.3)
    assert _count(router, "out.count") > 0                   # the flow is allowed
    new = tmp_path / "new.click"
    new.write_text(FIREWALL.replace("dst port 80", "dst port 443"))
    r = clickpy("reload", str(router), str(new))
    assert r.returncode == 0, r.stderr
    assert "replaced 1 (rules)" in r.stdout and "packets lost 0" in r.stdout
    assert "pause " in r.stdout
    passed = _count(router, "out.count")
    seen = _count(router, "c.count")
    time.sleep(0.3)
    assert _count(router, "c.count") > seen                  # the source (kept) runs on
    assert _count(router, "out.count") == passed             # and the new rule denies the flow


def test_a_broken_configuration_is_refused_with_its_place_and_the_router_runs_on(router, tmp_path):
    bad = tmp_path / "bad.click"
    bad.write_text(FIREWALL.replace("deny all", "deny al"))
    r = clickpy("reload", str(router), str(bad))
    assert r.returncode == 1
    assert f"{bad}:4:" in r.stderr and "IPFilter" in r.stderr
    before = _count(router, "c.count")
    time.sleep(0.3)
    assert _count(router, "c.count") > before
    assert "deny all" in clickpy("read", str(router), "rules.config").stdout


def test_parameters_on_the_command_line_reach_the_router(router, tmp_path):
    new = tmp_path / "new.click"
    new.write_text("define($PORT 80)\n" + FIREWALL.replace("dst port 80", "dst port $PORT"))
    r = clickpy("reload", str(router), str(new), "PORT=8080")
    assert r.returncode == 0, r.stderr
    assert "dst port 8080" in clickpy("read", str(router), "rules.config").stdout


def test_a_router_without_minus_R_refuses(tmp_path):
    sock = tmp_path / "ctl"
    proc = start_router(FIREWALL, sock)
    try:
        r = clickpy("reload", str(sock), "-e", FIREWALL)
        assert r.returncode == 1 and "takes no reloads (run it with -R)" in r.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_router_s_own_parameters_hold_unless_the_reload_overrides_them(tmp_path):
    text = "define($PORT 80)\n" + FIREWALL.replace("dst port 80", "dst port $PORT")
    sock = tmp_path / "ctl"
    proc = start_router(text, sock, "-R", "PORT=443")
    try:
        config = tmp_path / "same.click"
        config.write_text(text)
        r = clickpy("reload", "--dry-run", str(sock), str(config))
        assert r.returncode == 0 and r.stdout.startswith("no change"), r.stdout + r.stderr
        assert clickpy("reload", str(sock), str(config)).returncode == 0
        assert "dst port 443" in clickpy("read", str(sock), "rules.config").stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_a_dry_run_follows_a_changed_address_name_into_the_filters_that_use_it(tmp_path):
    text = ("AddressInfo(lan 10.0.0.0/8);\n"
            "src :: RatedSource(RATE 100, LIMIT -1) -> MarkIPHeader\n"
            "  -> rules :: IPFilter(allow src net lan && dst port 80, deny all) -> Discard;\n")
    sock = tmp_path / "ctl"
    proc = start_router(text, sock, "-R")
    try:
        new = tmp_path / "new.click"
        new.write_text(text.replace("lan 10.0.0.0/8", "lan 10.1.0.0/16"))
        r = clickpy("reload", "--dry-run", str(sock), str(new))
        assert r.returncode == 0, r.stderr
        assert "replace     rules :: IPFilter  (names 'lan', which changes)" in r.stdout
        assert "10.0.0.0/8 !10.1.0.0/16 -> any:80  was output 0 (allow), now dropped (deny)" in r.stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_a_reload_that_replaces_the_control_socket_it_came_through_answers_and_keeps_listening(tmp_path):
    sock = tmp_path / "cs"
    text = f'cs :: ControlSocket(UNIX, "{sock}");\n' + FIREWALL
    proc = subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-R", "-e", text],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not sock.exists() and time.time() < deadline:
            time.sleep(0.05)
        new = tmp_path / "new.click"
        new.write_text(f'cs :: ControlSocket(UNIX, "{sock}", VERBOSE true);\n' + FIREWALL)
        r = clickpy("reload", str(sock), str(new))
        assert r.returncode == 0, r.stderr
        assert "replaced 1 (cs)" in r.stdout
        assert "VERBOSE true" in clickpy("read", str(sock), "cs.config").stdout
        assert _count(sock, "c.count") > 0
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("payload", ["garbage", "\x93\xa1a\xa1b\x01", "\x93\x01\x02\x03", "\x93\xa1f\xa1t\x81\x01\x02"])
def test_a_hostile_reload_request_is_refused_and_the_router_runs_on(router, payload):
    from clickpy.control.client import ControlClient, ControlError

    with ControlClient(str(router)) as c:
        with pytest.raises(ControlError) as e:
            c.write("reload", payload)
        assert "expected [file name, text, definitions]" in str(e.value)
    before = _count(router, "c.count")
    time.sleep(0.2)
    assert _count(router, "c.count") > before and "deny all" in clickpy("read", str(router), "rules.config").stdout
