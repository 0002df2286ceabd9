"""Hot reload under traffic through veth pairs: configs/nat-firewall.click in a
lab (client - NAT with a firewall in front - server), reloaded with
'clickpy reload' to change one firewall rule while traffic runs.

* A UDP flow with sequence numbers, client to server at a steady few
  thousand packets a second, loses none of them across the reload.
* A 32 MB TCP transfer through the NAT, begun before the reload and
  finished after it, arrives byte-identical (sha256 at both ends): the
  rewriter is the same object, so the connection's mapping carries on.
* The report says so: fw replaced, rw kept (rewired to the new fw), 0 lost.
* A broken configuration (syntax error, unknown class, bad argument, an
  element that fails to initialize) changes nothing: the error names the
  file and line, and the flow runs on without a loss.
"""
import json
import re
import subprocess
import sys
import time

import pytest
from lab.conftest import UDP_SEQ_RECEIVER, UDP_SEQ_SENDER
from support import REPO

pytestmark = [pytest.mark.root, pytest.mark.slow]

CONFIG = "nat-firewall.click"
CONFIG_PATH = REPO / "configs" / CONFIG
NAT_OUTSIDE = "10.0.2.1"
SERVER = "10.0.2.2"
CLIENT = "10.0.1.2"
UDP_PORT = 9000
TCP_PORT = 8000
OLD_PORT, NEW_PORT = 23, 2323           # BLOCKED_PORT before and after the reload
RATE = 5000                             # UDP packets a second
TRANSFER = 32 << 20                     # bytes

# Server: sends TRANSFER bytes to the first client, the first third, then
# (saying so) the second, then waits for a line on stdin before the last;
# prints the sha256 of what it sent.
TCP_SENDER = r"""
import hashlib, random, socket, sys
size = int(sys.argv[3])
data = random.Random(12).randbytes(size)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(1)
print("listening", flush=True)
c, addr = ls.accept()
third = size // 3
c.sendall(data[:third])
print("third from", addr[0], flush=True)
c.sendall(data[third:2 * third])
sys.stdin.readline()
c.sendall(data[2 * third:])
c.close()
print(hashlib.sha256(data).hexdigest(), flush=True)
"""

# Client: receives until the server closes; prints the size and sha256.
TCP_RECEIVER = r"""
import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
h, n = hashlib.sha256(), 0
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
"""


def _start(lab, role, code, *args):
    p = lab.lab.popen(role, [sys.executable, "-u", "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lab.procs.append(p)
    return p


def _line(p, timeout=60) -> str:
    """The next line p prints (p's stderr if it ends first)."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no output from {p.args[:4]} within {timeout} s")
    line = p.stdout.readline()
    assert line, p.stderr.read()
    return line.strip()


def _run_reload(lab, config, *definitions, dry_run=False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clickpy", "reload", *(["--dry-run"] if dry_run else []),
                           str(lab.lab.control), str(config), *definitions],
                          capture_output=True, text=True, timeout=120)


def _reload(lab, *definitions, dry_run=False) -> str:
    r = _run_reload(lab, CONFIG_PATH, *definitions, dry_run=dry_run)
    assert r.returncode == 0, r.stderr + r.stdout + lab.log()
    return r.stdout


def _names(report: str, action: str) -> list[str]:
    m = re.search(rf"\b{action} (\d+)(?: \(([^)]*)\))?", report)
    assert m, report
    return m.group(2).split(", ") if m.group(2) else []


def _assert_only_fw_replaced(report: str) -> None:
    assert _names(report, "replaced") == ["fw"], report
    assert _names(report, "added") == [] and _names(report, "removed") == [], report
    assert "rw" in _names(report, "rewired"), report       # the same rewriter, wired to the new fw
    assert re.search(r"packets lost 0\b", report), report
    print(report)


def _mapping(table: str) -> list[str]:
    """The client's mappings, without the seconds each has left (they tick)."""
    return [re.sub(r" exp\d+", "", line) for line in table.splitlines() if f"({CLIENT}, " in line]


def _start_flow(lab):
    """A UDP flow with sequence numbers from client to server: (sender, receiver)."""
    assert lab.ping(SERVER) == [f"reply from {SERVER}"], lab.log()    # ARP resolved on both sides
    receiver = _start(lab, "server", UDP_SEQ_RECEIVER, SERVER, UDP_PORT)
    assert _line(receiver) == "listening"
    sender = _start(lab, "client", UDP_SEQ_SENDER, SERVER, UDP_PORT, RATE)
    assert _line(sender) == "sending"
    return sender, receiver


def _end_flow(sender, receiver) -> tuple[int, list[int], list[str]]:
    """Stop the flow: how many were sent, which never arrived, from whom they came."""
    sender.stdin.write("stop\n")
    sender.stdin.flush()
    sent = int(_line(sender))
    result = json.loads(_line(receiver, timeout=120))
    return sent, sorted(set(range(sent)) - set(result["seen"])), result["sources"]


def test_a_udp_flow_loses_no_packet_across_a_firewall_rule_reload(lab_up):
    lab = lab_up(CONFIG, "-R")
    assert lab.connect(SERVER, NEW_PORT, timeout=3) == "refused"       # not blocked yet: the RST returns
    sender, receiver = _start_flow(lab)
    # What the reload will do: replace fw, and change the fate of TCP to two ports only.
    plan = _reload(lab, f"BLOCKED_PORT={NEW_PORT}", dry_run=True)
    assert re.search(r"^replace +fw :: IPFilter", plan, re.M), plan
    policy = [line for line in plan.split("policy of fw :: IPFilter:\n")[1].splitlines()
              if "was output" in line]
    assert len(policy) == 2 and all(line.strip().startswith("tcp ") for line in policy), plan
    assert any(f":{NEW_PORT} " in line for line in policy) and any(f":{OLD_PORT} " in line for line in policy)
    time.sleep(1.0)
    mapping = _mapping(lab.read("rw.udp_table"))
    assert mapping, lab.read("rw.udp_table")
    report = _reload(lab, f"BLOCKED_PORT={NEW_PORT}")
    time.sleep(1.0)
    assert _mapping(lab.read("rw.udp_table")) == mapping                # the flow's mapping carried on
    sent, missing, sources = _end_flow(sender, receiver)

    _assert_only_fw_replaced(report)
    assert sources == [NAT_OUTSIDE]
    assert sent > RATE and missing == [], f"{len(missing)} of {sent} missing, first {missing[:10]}"
    # The new rule holds: the port now blocked times out, the old one is open.
    assert lab.connect(SERVER, NEW_PORT, timeout=2) == "timeout"
    assert lab.connect(SERVER, OLD_PORT, timeout=3) == "refused"
    assert int(lab.read("fw_denied.count")) > 0


def test_a_tcp_transfer_through_the_nat_survives_a_reload_in_its_middle(lab_up):
    lab = lab_up(CONFIG, "-R")
    sender = _start(lab, "server", TCP_SENDER, SERVER, TCP_PORT, TRANSFER)
    assert _line(sender) == "listening"
    receiver = _start(lab, "client", TCP_RECEIVER, SERVER, TCP_PORT)
    assert _line(sender, timeout=120) == f"third from {NAT_OUTSIDE}"
    mapping = _mapping(lab.read("rw.tcp_table"))
    assert mapping, lab.read("rw.tcp_table")
    report = _reload(lab, f"BLOCKED_PORT={NEW_PORT}")
    assert _mapping(lab.read("rw.tcp_table")) == mapping
    sender.stdin.write("go\n")                  # the last third only after the reload
    sender.stdin.flush()
    sent_hash = _line(sender, timeout=300)
    size, received_hash = _line(receiver, timeout=300).split()

    _assert_only_fw_replaced(report)
    assert int(size) == TRANSFER and received_hash == sent_hash


def _broken(text: str) -> dict[str, tuple[str, str]]:
    """name -> (a broken copy of the configuration's text, a word its error must say)."""
    fw = "fw :: IPFilter(1 tcp dst port 25,"
    assert fw in text
    return {
        "syntax error": (text.replace(fw, fw.replace("(", "((")), "unbalanced"),
        "unknown class": (text.replace(fw, fw.replace("IPFilter", "IPFiltre")), "IPFiltre"),
        "bad argument": (text.replace(fw, fw.replace("port 25", "port 99999")), "99999"),
        "failing initialize": (text + "\nIdle -> ToDump(/nonexistent/dir/x.pcap);\n", "/nonexistent/dir"),
    }


def test_a_broken_reload_changes_nothing_and_the_flow_runs_on(lab_up, tmp_path):
    lab = lab_up(CONFIG, "-R")
    sender, receiver = _start_flow(lab)
    time.sleep(0.5)
    mapping = _mapping(lab.read("rw.udp_table"))
    assert mapping
    errors = {}
    for name, (text, expected) in _broken(CONFIG_PATH.read_text()).items():
        path = tmp_path / "broken.click"
        path.write_text(text)
        r = _run_reload(lab, path)
        assert r.returncode != 0 and expected in r.stderr and "Traceback" not in r.stderr, (name, r.stderr)
        assert re.search(r"broken\.click:\d+:\d+: ", r.stderr), (name, r.stderr)     # file:line:col
        errors[name] = r.stderr.strip()
    time.sleep(0.5)
    assert _mapping(lab.read("rw.udp_table")) == mapping
    assert lab.read("reload_report") == ""                        # no reload happened
    sent, missing, _ = _end_flow(sender, receiver)
    print("\n".join(f"{k}: {v}" for k, v in errors.items()))
    assert sent > RATE and missing == [], f"{len(missing)} of {sent} missing, first {missing[:10]}"
