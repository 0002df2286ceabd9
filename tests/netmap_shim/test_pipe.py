"""pipe:NAME{N / pipe:NAME}N between threads and between processes.

The cross-process cases run in a fresh interpreter (subprocess) that forks
or starts a second process itself, so this test process never shares its
buffer pool with a child; each prints one JSON line of what it saw. Every
case has a timeout: a hang is a failure, not a stuck run.
"""
import json
import subprocess
import sys
import textwrap
import threading

import pytest

from clickpy.netmap_shim.backends.pipe import PipePair
from clickpy.netmap_shim.ring import PortError, open_port, pump_rx, pump_tx
from clickpy.runtime import packet

TIMEOUT = 60


def run_script(body: str, *args: str) -> dict:
    """Run body (Python) in a new interpreter; it prints one JSON line last."""
    code = textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


COMMON = """
import json, os, select, signal, sys, time
from clickpy.netmap_shim.backends.pipe import PipePair
from clickpy.netmap_shim.ring import PortError, open_port, pump_rx, pump_tx
from clickpy.runtime import packet
"""


def test_two_processes_both_directions_in_order_lossless_no_leak(tmp_path):
    out = run_script(COMMON + """
    N = 200_000
    start = packet.small_pool_census()
    pair = PipePair.create("both", 3, slots=256, grant=2048)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        got = pump_rx(port, N, mode="zerocopy", verify=True, timeout=20)
        back = pump_tx(port, N, mode="copy", timeout=20)
        port.close()
        pair.close()
        child = {"got": got, "back": back, "census": packet.small_pool_census()}
        with open(sys.argv[1], "w") as f:
            json.dump(child, f)
        os._exit(0)
    pair.release_end(1)
    port = open_port(pair.master)
    sent = pump_tx(port, N, mode="zerocopy", timeout=20)
    back = pump_rx(port, N, mode="slots", verify=True, timeout=20)
    _, status = os.waitpid(pid, 0)
    port.close()
    pair.close()
    with open(sys.argv[1]) as f:
        child = json.load(f)
    print(json.dumps({"sent": sent, "back": back, "child": child, "status": status,
                      "start": start, "end": packet.small_pool_census()}))
    """.replace("\n    ", "\n"), str(tmp_path / "child.json"))
    n = 200_000
    assert out["status"] == 0
    assert out["sent"]["sent"] == n and out["sent"]["error"] is None
    got = out["child"]["got"]
    assert got["received"] == n and got["errors"] == 0 and got["drops"] == 0 and got["last"] == n - 1
    assert out["child"]["back"]["sent"] == n
    back = out["back"]
    assert back["received"] == n and back["errors"] == 0 and back["last"] == n - 1
    # every buffer the pair took came back to the process that made it
    assert out["end"] == out["start"]
    # the child owned exactly its grant, and gave it back
    free, held, foreign = out["child"]["census"]
    assert held == 0


def test_poll_wakes_the_receiver_when_the_peer_sends():
    out = run_script(COMMON + """
    pair = PipePair.create("wake", 0, slots=16, grant=64)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        time.sleep(0.5)                       # the parent is asleep in select by now
        port.send([b"wake up"])
        time.sleep(0.5)
        port.close(); pair.close()
        os._exit(0)
    pair.release_end(1)
    port = open_port(pair.master)
    empty = port.recv()                       # nothing yet: arms the wake-up
    readable_now = select.select([port.fd], [], [], 0)[0]
    woke = select.select([port.fd], [], [], 20)[0]
    got = port.recv()
    os.waitpid(pid, 0)
    print(json.dumps({"empty": len(empty), "readable_now": bool(readable_now), "woke": bool(woke),
                      "got": [g.decode() for g in got]}))
    """.replace("\n    ", "\n"))
    assert out == {"empty": 0, "readable_now": False, "woke": True, "got": ["wake up"]}


def test_sender_waits_in_poll_until_the_receiver_frees_slots():
    out = run_script(COMMON + """
    pair = PipePair.create("full", 0, slots=8, grant=64)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        time.sleep(0.5)
        got = port.recv()
        time.sleep(0.5)
        got += port.recv()
        port.close(); pair.close()
        os._exit(0 if len(got) == 8 else 1)
    pair.release_end(1)
    port = open_port(pair.master)
    first = port.send([b"%d" % i for i in range(8)])         # 7 fit
    writable_now = select.select([], [port.fd], [], 0)[1]
    woke = select.select([], [port.fd], [], 20)[1]
    second = port.send([b"7"])
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"first": first, "writable_now": bool(writable_now), "woke": bool(woke),
                      "second": second, "status": status}))
    """.replace("\n    ", "\n"))
    assert out == {"first": 7, "writable_now": False, "woke": True, "second": 1, "status": 0}


def test_receiver_sees_a_sender_that_dies_after_reading_what_it_sent():
    out = run_script(COMMON + """
    pair = PipePair.create("die", 0, slots=64, grant=256)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        port.send([b"frame %d" % i for i in range(10)])
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up at all
    pair.release_end(1)
    port = open_port(pair.master)
    t0 = time.monotonic()
    got = pump_rx(port, 1000, mode="copy", timeout=30)
    took = time.monotonic() - t0
    try:
        port.recv()
        later = None
    except PortError as e:
        later = str(e)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"got": got["received"], "error": got["error"], "later": later,
                      "quick": took < 10, "gone": port.peer_gone, "signal": os.WTERMSIG(status)}))
    """.replace("\n    ", "\n"))
    assert out["got"] == 10                   # everything sent before the death arrives
    assert "pipe:die}0" in out["error"] and "is gone" in out["error"]
    assert out["later"].startswith("pipe:die{0: rxsync failed: the other end (pipe:die}0) is gone")
    assert out["quick"] and out["gone"] and out["signal"] == 9


def test_a_sleeping_receiver_is_woken_by_the_peers_death():
    out = run_script(COMMON + """
    pair = PipePair.create("sleeper", 0, slots=16, grant=64)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    pair.release_end(1)
    port = open_port(pair.master)
    first = port.recv()                       # nothing: arms the wake-up
    woke = select.select([port.fd], [], [], 30)[0]   # a missed hang-up would time out
    try:
        port.recv()
        error = None
    except PortError as e:
        error = str(e)
    os.waitpid(pid, 0)
    port.close()
    pair.close()
    print(json.dumps({"first": len(first), "woke": bool(woke), "error": error}))
    """.replace("\n    ", "\n"))
    assert out["first"] == 0 and out["woke"]
    assert out["error"] == ("pipe:sleeper{0: rxsync failed: the other end (pipe:sleeper}0) is gone: "
                            "its process exited or closed the pipe")


def test_sender_sees_a_receiver_that_dies():
    out = run_script(COMMON + """
    pair = PipePair.create("rdie", 0, slots=32, grant=128)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        port.recv(max=5)
        os._exit(3)
    pair.release_end(1)
    port = open_port(pair.master)
    result = pump_tx(port, 100_000, mode="slots", timeout=30)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"sent": result["sent"], "error": result["error"],
                      "exit": os.WEXITSTATUS(status)}))
    """.replace("\n    ", "\n"))
    assert out["exit"] == 3
    assert out["sent"] < 100_000
    assert "is gone" in out["error"] and out["error"].startswith("pipe:rdie{0: txsync failed")


def test_a_process_started_on_its_own_gets_the_pair_over_a_unix_socket(tmp_path):
    out = run_script(COMMON + """
    import socket, subprocess
    CHILD = '''
import json, socket, sys
from clickpy.netmap_shim.backends.pipe import PipePair
from clickpy.netmap_shim.ring import open_port, pump_rx, pump_tx
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
pair = PipePair.receive(s)
port = open_port(pair.slave)
got = pump_rx(port, 50_000, mode="zerocopy", verify=True, timeout=20)
back = port.send([b"thanks"])
port.close(); pair.close()
print(json.dumps({"got": got["received"], "errors": got["errors"], "back": back}))
'''
    path = sys.argv[1]
    srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(1)
    start = packet.small_pool_census()
    pair = PipePair.create("sock", 1, slots=128, grant=1024)
    child = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True)
    conn, _ = srv.accept()
    pair.send_fds(conn, 1)
    pair.release_end(1)
    port = open_port(pair.master)
    sent = pump_tx(port, 50_000, mode="copy", timeout=20)
    port.wait(timeout=20)
    thanks = port.recv()
    out, _ = child.communicate(timeout=30)
    port.close()
    pair.close()
    print(json.dumps({"sent": sent["sent"], "child": json.loads(out), "thanks": [t.decode() for t in thanks],
                      "same": packet.small_pool_census() == start}))
    """.replace("\n    ", "\n"), str(tmp_path / "sock"))
    assert out["sent"] == 50_000
    assert out["child"] == {"got": 50_000, "errors": 0, "back": 1}
    assert out["thanks"] == ["thanks"]
    assert out["same"]


def test_a_buffer_a_packet_held_when_the_child_forked_is_lent_to_the_child_like_any_other(tmp_path):
    # The parent holds a packet when it forks, frees it afterwards, and its
    # buffer (first on the free list) is the first one it sends: the child,
    # whose inherited copy of that packet still exists, must take the frame.
    out = run_script(COMMON + """
    N = 64
    pair = PipePair.create("inherit", 0, slots=64, grant=256)
    held = packet.PacketObject.make(b"x" * 60)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        port = open_port(pair.slave)
        got = pump_rx(port, N, mode="zerocopy", verify=True, timeout=20)
        result = {"got": got, "inherited": held.length}    # the inherited packet still reads
        port.close()
        pair.close()
        with open(sys.argv[1], "w") as f:
            json.dump(result, f)
        os._exit(0)
    pair.release_end(1)
    del held                                  # its buffer goes back on the free list, on top
    port = open_port(pair.master)
    sent = pump_tx(port, N, mode="zerocopy", timeout=20)
    _, status = os.waitpid(pid, 0)
    port.close()
    pair.close()
    with open(sys.argv[1]) as f:
        child = json.load(f)
    print(json.dumps({"sent": sent["sent"], "child": child, "status": status}))
    """.replace("\n    ", "\n"), str(tmp_path / "child.json"))
    assert out["status"] == 0 and out["sent"] == 64
    got = out["child"]["got"]
    assert (got["received"], got["drops"], got["errors"]) == (64, 0, 0)
    assert out["child"]["inherited"] == 60


def test_open_before_attach_in_a_forked_child_is_refused(tmp_path):
    out = run_script(COMMON + """
    pair = PipePair.create("noattach", 0, slots=8, grant=16)
    pid = os.fork()
    if pid == 0:
        try:
            open_port(pair.slave)
            msg = "opened"
        except PortError as e:
            msg = str(e)
        with open(sys.argv[1], "w") as f:
            f.write(msg)
        os._exit(0)
    os.waitpid(pid, 0)
    pair.close()
    print(json.dumps({"msg": open(sys.argv[1]).read()}))
    """.replace("\n    ", "\n"), str(tmp_path / "child.txt"))
    assert "call attach() in this process first" in out["msg"]


# --- in one process -------------------------------------------------------------------


def test_two_threads_in_order_and_lossless():
    before = packet.small_pool_census()
    a = open_port("pipe:threads{7?slots=64")
    b = open_port("pipe:threads}7")
    result = {}
    n = 100_000

    def receive():
        result["rx"] = pump_rx(b, n, mode="zerocopy", verify=True, timeout=20)

    t = threading.Thread(target=receive)
    t.start()
    sent = pump_tx(a, n, mode="zerocopy", timeout=20)
    t.join(30)
    assert not t.is_alive()
    assert sent["sent"] == n
    rx = result["rx"]
    assert rx["received"] == n and rx["errors"] == 0 and rx["last"] == n - 1 and rx["error"] is None
    a.close()
    b.close()
    assert packet.small_pool_census() == before


def test_pair_made_by_name_goes_away_with_its_last_end():
    before = packet.small_pool_census()
    a = open_port("pipe:auto{0")
    assert ("auto", 0) in __import__("clickpy.netmap_shim.backends.pipe", fromlist=["pairs"]).pairs()
    b = open_port("pipe:auto}0")
    a.close()
    b.close()
    assert packet.small_pool_census() == before
    c = open_port("pipe:auto{0?slots=4")    # a new pair, with another geometry
    assert c.tx_rings[0].num_slots == 4
    c.close()


def test_slot_count_must_agree_with_the_existing_pair():
    a = open_port("pipe:geom{0?slots=16")
    try:
        with pytest.raises(PortError, match="exists with 16 slots, not 32"):
            open_port("pipe:geom}0?slots=32")
    finally:
        a.close()


def test_pair_creation_errors():
    with pytest.raises(PortError, match="slots must be 2 to 65536"):
        PipePair.create("bad", 0, slots=1)
    with pytest.raises(PortError, match="grant cannot be negative"):
        PipePair.create("bad", 0, slots=8, grant=-1)
    with pytest.raises(PortError, match=r"needs \d+ buffers, the pool has \d+ free"):
        PipePair.create("bad", 0, slots=65536, grant=10_000_000)
    pair = PipePair.create("dup", 0, slots=8, grant=0)
    try:
        with pytest.raises(PortError, match="a pipe of that name exists"):
            PipePair.create("dup", 0, slots=8, grant=0)
        with pytest.raises(PortError, match="end must be 0"):
            pair.release_end(2)
    finally:
        pair.close()
    assert pair.closed
    with pytest.raises(PortError, match="the pair is closed"):
        pair.open(0)
    with pytest.raises(PortError, match="domain must be 0 to 4095"):
        PipePair.create("bad", 0, slots=8, grant=0, domain=4096)


KILLED_HOLDING = COMMON + """
domain = int(sys.argv[1])
start = packet.small_pool_census()
pair = PipePair.create("held", 0, slots=64, grant=512, domain=domain)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    pair.attach()
    port = open_port(pair.slave)
    got = pump_rx(port, 200, mode="zerocopy", timeout=20)    # packets made and freed: buffers moved
    ring = port.rx_rings[0]
    while port.rx_sync() == 0:
        time.sleep(0.001)
    held = [ring.take_packet(ring.head)]                     # one frame kept as a packet
    pump_tx(port, 30, mode="zerocopy", timeout=20)            # some sent back, not read yet
    os.write(w, b"x")
    time.sleep(30)                                           # killed here, holding all that
    os._exit(1)
pair.release_end(1)
port = open_port(pair.master)
sent = pump_tx(port, 201, mode="zerocopy", timeout=20)
select.select([r], [], [], 30)
lent_before = packet.small_pool_lent(domain)
os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
port.close()
reclaimed = pair.close()
print(json.dumps({"sent": sent["sent"], "signal": os.WTERMSIG(status), "reclaimed": reclaimed,
                  "lent_before": lent_before, "lent_after": packet.small_pool_lent(domain),
                  "start": start, "end": packet.small_pool_census()}))
"""


def test_a_killed_peer_gives_back_every_buffer_it_held_when_it_has_a_domain():
    out = run_script(KILLED_HOLDING, "7")
    assert out["sent"] == 201 and out["signal"] == 9 and out["reclaimed"] is True
    # The peer held its rings' buffers, its grant, a packet and frames in flight: all lent to domain 7.
    assert out["lent_before"] == 2 * 64 + 512
    assert out["lent_after"] == 0
    assert out["end"] == out["start"]


def test_without_a_domain_a_killed_peers_grant_stays_lost():
    # What domains are for: the owner cannot tell which buffers a dead peer held.
    out = run_script(KILLED_HOLDING, "0")
    assert out["reclaimed"] is True
    free0, held0, foreign0 = out["start"]
    free1, held1, foreign1 = out["end"]
    assert foreign1 - foreign0 == 512 and free0 - free1 == 512


def test_a_peer_cannot_pass_off_a_buffer_lent_to_another_domain():
    # One process attached to two pairs of different domains sends, on pair B,
    # buffers it was granted through pair A: the owner refuses them (counted
    # drops) rather than hold a buffer another peer may also hold.
    out = run_script(COMMON + """
    start = packet.small_pool_census()
    b = PipePair.create("dom", 1, slots=64, grant=64, domain=2)
    a = PipePair.create("dom", 0, slots=64, grant=64, domain=1)
    pid = os.fork()
    if pid == 0:
        b.attach()
        a.attach()                   # A's grant is on top of the free list: the first packets use it
        pa, pb = open_port(a.slave), open_port(b.slave)
        pump_tx(pb, 40, mode="zerocopy", stamp=False, timeout=20)
        pb.close(); pa.close(); a.close(); b.close()
        os._exit(0)
    a.release_end(1)
    b.release_end(1)
    pa, pb = open_port(a.master), open_port(b.master)
    got = pump_rx(pb, 40, mode="zerocopy", timeout=20)
    os.waitpid(pid, 0)
    pa.close(); pb.close()
    print(json.dumps({"got": got, "closed": [a.close(), b.close()], "start": start,
                      "end": packet.small_pool_census()}))
    """.replace("\n    ", "\n"))
    # (the first packet has A's buffer; later ones reuse the slots' old buffers, lent to B)
    assert out["got"]["received"] == 40 and out["got"]["drops"] >= 1
    assert out["closed"] == [True, True] and out["end"] == out["start"]


def test_an_end_opened_early_is_what_the_first_open_port_gets():
    out = run_script(COMMON + """
    pair = PipePair.create("early", 0, slots=16, grant=32)
    pid = os.fork()
    if pid == 0:
        pair.attach()
        early = pair.open_early(1)            # before anything names the port
        same = open_port(pair.slave) is early
        try:
            open_port(pair.slave)
            again = None
        except PortError as e:
            again = str(e)
        got = early.recv()
        while not got:
            time.sleep(0.001)
            got = early.recv()
        early.close()
        pair.close()
        print(json.dumps({"same": same, "again": again, "got": [g.decode() for g in got]}))
        sys.stdout.flush()
        os._exit(0)
    pair.release_end(1)
    port = open_port(pair.master)
    port.send([b"x" * 60])
    os.waitpid(pid, 0)
    port.close()
    pair.close()
    """.replace("\n    ", "\n"))
    assert out["same"] is True
    assert out["again"] == "pipe:early}0: already open in this process"
    assert out["got"] == ["x" * 60]
