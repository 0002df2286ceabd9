"""DriverManager (a TYPE DRIVER Script): when the driver stops."""
import re

import pytest

from support import build_router, run_config

START = 1_000_000_000 * 10**9  # simulated time starts here


def run(config, capfd):
    r = build_router(config, simulated=True)
    r.run()
    out, err = capfd.readouterr()
    r.cleanup()
    return r, out, err


def test_wait_stop_waits_for_the_source(capfd):
    r, out, _ = run("InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard;"
                    "DriverManager(wait_stop, print c.count)", capfd)
    assert out == "5\n"


def test_first_instructions_run_when_the_driver_starts(capfd):
    _, out, _ = run("""InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard;
                       DriverManager(print "start $(c.count)", pause, print "end $(c.count)")""", capfd)
    assert out == "start 0\nend 5\n"


def test_pause_count_needs_that_many_stop_events(capfd):
    r, out, _ = run("""InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard;
                       Script(wait 3, write stop);
                       DriverManager(pause 2, print $(c.count) $(now))""", capfd)
    assert out == "5 1000000003.000000\n"


def test_timed_wait_then_implicit_stop(capfd):
    r, out, _ = run("Idle; DriverManager(wait 2.5s, print $(now))", capfd)
    assert out == "1000000002.500000\n"
    assert r.scheduler.now() == START + 2_500_000_000


def test_empty_driver_manager_stops_at_first_stop_event(capfd):
    r, out, _ = run('Idle; Script(wait 1, write stop, wait 1, print "never")', capfd)
    assert out == ""
    r, out, _ = run('Idle; Script(wait 1, write stop, wait 1, print "never"); DriverManager', capfd)
    assert out == ""
    assert r.scheduler.now() == START + 10**9


def test_stop_event_ends_a_wait_early(capfd):
    _, out, _ = run("""Idle; Script(wait 1, write stop, wait 1, write stop);
                       DriverManager(wait 10, print $(now), pause, print $(now))""", capfd)
    assert out == "1000000001.000000\n1000000002.000000\n"


def test_script_stop_goes_through_the_driver_manager(capfd):
    _, out, _ = run("""Idle; Script(wait 1, stop);
                       DriverManager(pause, print "stopping", wait 1, print $(now))""", capfd)
    assert out == "stopping\n1000000002.000000\n"


def test_without_driver_manager_a_stop_ends_the_run(capfd):
    r, out, _ = run('Idle; Script(wait 1, stop); Script(wait 5, print "late")', capfd)
    assert out == ""
    assert r.scheduler.now() == START + 10**9


def test_type_driver_script_is_a_driver_manager(capfd):
    _, out, _ = run("""InfiniteSource(LIMIT 3, STOP true) -> c :: Counter -> Discard;
                       Script(TYPE DRIVER, pause, print c.count)""", capfd)
    assert out == "3\n"


def test_driver_manager_may_be_made_active(capfd):
    # TYPE ACTIVE makes it an ordinary script: the source's stop ends the run.
    r, out, _ = run("""InfiniteSource(LIMIT 3, STOP true) -> c :: Counter -> Discard;
                       DriverManager(TYPE ACTIVE, pause, print "never")""", capfd)
    assert out == ""


@pytest.mark.parametrize("ending", ["end", "exit", "goto end", "error"])
def test_ending_without_stop_still_stops(capfd, ending):
    r, out, err = run(f"""InfiniteSource(LIMIT 3, STOP true) -> c :: Counter -> Discard;
                          DriverManager(pause, print c.count, {ending})""", capfd)
    assert out.startswith("3\n")


def test_loop_in_driver_manager(capfd):
    # Print the count at every stop event until the third.
    _, out, _ = run("""Idle; Script(wait 1, write stop, wait 1, write stop, wait 1, write stop);
                       DriverManager(init n 0, label l, pause, set n $(add $n 1), print $n $(now),
                                     goto l $(lt $n 3))""", capfd)
    assert out.splitlines() == ["1 1000000001.000000", "2 1000000002.000000", "3 1000000003.000000"]


def test_a_stopped_router_still_finishes_its_driver_manager(capfd):
    # As in Click (Master::verify_stop): after a signal the DriverManager is
    # stepped through its remaining instructions; its pauses cannot hold the
    # driver, since the runcount stays far below zero.
    r = build_router('Idle; DriverManager(pause, print "x", pause, pause)', simulated=True)
    r.stop()
    r.run()
    r.cleanup()
    assert capfd.readouterr().out == "x\n"


def test_driver_manager_has_script_handlers():
    r = build_router("dm :: DriverManager(pause)")
    assert r.read("dm.add", param="2 3") == "5"
    assert r.read("dm.class") == "DriverManager"


def test_write_stop_with_count(capfd):
    _, out, _ = run("""Idle; Script(wait 1, write stop 2);
                       DriverManager(pause, print "one", pause, print "two")""", capfd)
    # One write lowering the runcount by 2 is one stop event, but the
    # manager's raise by one leaves the count at zero: it is stepped again.
    assert out == "one\ntwo\n"


def test_cleanup_removes_the_stop_hook():
    r = build_router("DriverManager(pause)", simulated=True)
    assert len(r.stop_hooks) == 1
    r.cleanup()
    assert r.stop_hooks == []


def test_benchmark_config_prints_its_line(shared_dir):
    p = run_config((shared_dir / "bench" / "a-infsrc-discard.click").read_text(), "LIMIT=20000")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"CLICKBENCH elapsed \d+(\.\d+)?(e-\d+)? count 20000\n", p.stdout)
