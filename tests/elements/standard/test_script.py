"""Script: instructions, substitutions, built-in handlers, script types, handlers."""
import pytest

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError
from support import build_router, run_config


def run(config, capfd):
    """Run config in simulated time in this process; returns (router, stdout, stderr)."""
    r = build_router(config, simulated=True)
    r.run()
    out, err = capfd.readouterr()
    r.cleanup()
    return r, out, err


def lines(config, capfd):
    return run(config, capfd)[1].splitlines()


# --- built-in handlers --------------------------------------------------------------


@pytest.mark.parametrize("expr, result", [
    ("add 1 2 3", "6"), ("add", "0"), ("add 1.5 2", "3.5"), ("sub 10 2 2", "6"), ("sub 1", "1"),
    ("min 10 6 20", "6"), ("max -1 6 3", "6"), ("mul 1 2 3", "6"), ("mul", "1"),
    ("div 75 2.5 5", "6"), ("div 1 3", "0.333333333333"), ("idiv 60 2 5", "6"), ("idiv 7 2", "3"),
    ("idiv -7 2", "-3"), ("add 0x10 010 0b1", "25"), ("mul 9223372036854775807 2", "-2"),
    ("mod 7 3", "1"), ("mod -7 3", "-1"), ("rem 7.5 2", "1.5"), ("rem 7 3", "1"),
    ("neg 5", "-5"), ("neg -2.5", "2.5"), ("abs -5", "5"), ("abs 2.5", "2.5"),
    ("eq 10 0xA", "true"), ("eq 10x 10x", "true"), ("le 9 8", "false"), ("ge 2 2", "true"),
    ("ne 1 1.0", "false"), ("lt a b", "true"), ("gt 1.5 1", "true"), ("lt \"b\" a", "false"),
    ("not true", "false"), ("not 0", "true"), ("and true yes 1", "true"), ("and true false", "false"),
    ("or false f true", "true"), ("or", "false"), ("and", "true"), ("nand true true", "false"),
    ("nor false false", "true"), ("if true a b", "a"), ("if false a b", "b"),
    ("in foo bar foo", "true"), ("in foo bar baz", "false"), ("in \"x\" x", "true"),
    ("first a b c", "a"), ("length abcdef", "6"), ("unquote \"a b\"", "a b"),
    ("htons 6", "1536"), ("ntohs 1536", "6"), ("htonl 6", "100663296"), ("ntohl 100663296", "6"),
    ("htonl -1", "4294967295"),
    ("sprintf \"%05x\" 127", "0007f"), ("sprintf \"%d|%-4d|%+d|% d\" 1 2 3 4", "1|2   |+3| 4"),
    ("sprintf %#o/%#x/%#X/%o 8 255 255 8", "010/0xff/0XFF/10"), ("sprintf %s-%5s-%.2s a b xyz", "a-    b-xy"),
    ("sprintf %*d|%.*d 4 7 3 5", "   7|005"), ("sprintf %hd 65535", "-1"), ("sprintf %hu 65537", "1"),
    ("sprintf 100%%", "100%"), ("sprintf \"%u %lld\" 4294967296 -3", "4294967296 -3"),
    ("readable s.add", "true"), ("readable s.add s.nothing", "false"), ("writable s.step", "true"),
    ("writable s.add", "false"), ("readable nosuch.thing", "false"), ("readable version", "true"),
])
def test_builtin_handlers(expr, result):
    r = build_router("s :: Script(TYPE PASSIVE)")
    name, _, param = expr.partition(" ")
    assert r.read(f"s.{name}", param=param) == result


@pytest.mark.parametrize("expr, message", [
    ("add 1 x", "expected list of numbers"), ("mod 1.5 2", "expected two numbers"),
    ("mod 1", "expected two numbers"), ("lt 1 2 3", "expected two numbers"), ("mod 1 0", "division by zero"),
    ("neg x", "expected one number"), ("not maybe", "syntax error"), ("and true x", "syntax error"),
    ("if x a b", "syntax error"), ("sprintf %d x", "syntax error"), ("sprintf %d", "syntax error"),
    ("sprintf %q 1", "syntax error"), ("sprintf a 1", "syntax error"), ("htons x", "syntax error"),
    ("random 0", "bad N"), ("random 5 2", "bad N"), ("random -1", "N1: expected unsigned integer"),
    ("random 1 2 3", "too many arguments"), ("get nosuch", "undefined variable 'nosuch'"),
    ("get", "no variable"), ("get a b", "too many arguments"), ("kill BOGUS 1", "bad SIGNO"),
    ("kill 0 x", "bad PID"), ("cat /nonexistent/file", "/nonexistent/file: No such file or directory"),
])
def test_builtin_errors(expr, message):
    r = build_router("s :: Script(TYPE PASSIVE, set v 1)")
    name, _, param = expr.partition(" ")
    with pytest.raises(HandlerError, match=message):
        r.read(f"s.{name}", param=param)


def test_random_ranges():
    r = build_router("s :: Script(TYPE PASSIVE)")
    assert {r.read("s.random", param="3") for _ in range(200)} == {"0", "1", "2"}
    assert {r.read("s.random", param="5 6") for _ in range(200)} == {"5", "6"}
    assert 0 <= int(r.read("s.random", param="")) <= 2147483647


def test_cat_and_catq(tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes(b'hi "there"\n')
    r = build_router("s :: Script(TYPE PASSIVE)")
    assert r.read("s.cat", param=str(f)) == 'hi "there"\n'
    assert r.read("s.catq", param=str(f)) == '"hi \\"there\\"\\n"'


def test_now_is_the_routers_time():
    r = build_router("s :: Script(TYPE PASSIVE)", simulated=True)
    assert r.read("s.now") == "1000000000.000000"


def test_variable_handlers(capfd):
    out = lines("""s :: Script(write set foovar foo bar baz, print $(shift foovar), print $(shift foovar),
                    print $(get foovar), write set v, print "[$v]", stop)""", capfd)
    assert out == ["foo", "bar", "baz", "[]"]


# --- instructions -------------------------------------------------------------------------


def test_loop_with_goto_and_arithmetic(capfd):
    out = lines("Script(set x 0, label l, print $x, set x $(add $x 1), goto l $(lt $x 5), stop)", capfd)
    assert out == ["0", "1", "2", "3", "4"]


def test_print_handler_versus_text(capfd):
    out = lines("""Idle -> c :: Counter -> Idle;
        Script(print c.count, print "c.count", print '"c.count"', set x c.count, print $x, print $($x),
               set y "$(c.count)", print $y, setq z "$(c.count)", print $z, printn "a", printn "b", print "",
               print, print "two\\nlines", print @nothing, stop)""", capfd)
    assert out == ["0", "c.count", '"c.count"', "c.count", "0", '"0"', "0", "ab", "", "two", "lines"]


def test_print_to_files(tmp_path, capfd):
    f = tmp_path / "out.txt"
    _, out, _ = run(f"""Script(print >{f} "first", print >>{f} "second", printn >>{f} "third", print >- "tostdout",
                   save "saved" {f}2, append "more" {f}2, stop)""", capfd)
    assert f.read_text() == "first\nsecond\nthird"
    assert out == "tostdout\n"
    assert (tmp_path / "out.txt2").read_text() == "saved\nmore\n"


def test_print_to_unwritable_file_is_an_error(capfd):
    _, out, err = run('s :: Script(print >/nonexistent/dir/f "x", print "after", stop)', capfd)
    assert out == "after\n"
    assert "While executing 's :: Script':\n  /nonexistent/dir/f: No such file or directory" in err


def test_read_instruction_prints_to_stderr(capfd):
    _, out, err = run("Idle -> c :: Counter -> Idle; Script(read c.count, readq s.unquote \"q\", stop);"
                      "s :: Script(TYPE PASSIVE)", capfd)
    assert out == ""
    assert err == "c.count:\n0\ns.unquote:\nq\n"


def test_write_status(capfd):
    out = lines("""s :: Script(TYPE PASSIVE, goto e $(eq "$1" e), goto s $(eq "$1" s), return ok, label e, error, label s, stop);
        Script(write s.run, print $?, write s.run e, print $?, write s.run s, print $?,
               write nosuch.handler, print $?, stop)""", capfd)
    assert out == ["0", "-1", "1", "1"]


def test_errors_are_reported_with_context(capfd):
    _, out, err = run("s :: Script(print $(add 1 x), print $(nosuch 1), print \"x$(nosuch.h)y\", error bad $(add 1 1), "
                      "print \"no\"); Script(wait 1, stop)", capfd)
    # A print whose substitutions fail adds no newline; unknown handlers stay as written.
    assert out == "$(nosuch 1)x$(nosuch.h)y"
    assert err.splitlines() == [
        "While executing 's :: Script':",
        "  expected list of numbers",
        "  no 'nosuch' read handler",
        "  no element named 'nosuch'",
        "  bad 2",
    ]


def test_bad_goto_condition(capfd):
    _, out, err = run("s :: Script(goto a maybe, print \"fell\", label a, print \"end\"); Script(wait 1, stop)", capfd)
    assert out == "fell\nend\n"
    assert "bad condition 'maybe'" in err


def test_too_many_jumps(capfd):
    _, out, err = run("s0 :: Script(label a, goto a); s1 :: Script(wait 1, stop)", capfd)
    assert err == "s0 :: Script: too many jumps, giving up\n"


def test_goto_special_labels(capfd):
    out = lines("""Script(print "a", goto end, print "b");
                   Script(print "c", goto exit $(eq 1 1), print "d");
                   Script(wait 1, print "e", goto begin $(eq 1 0), print "f", stop)""", capfd)
    assert out == ["a", "c", "e", "f"]


def test_init_and_export_happen_once(capfd):
    r, out, _ = run("""s :: Script(TYPE PASSIVE, init n 10, export count $(add 1 1), exportq q "a b",
                                      set n $(add $n 1), set count $n, return $n);
                         Script(print $(s.run), print $(s.run), stop)""", capfd)
    assert out == "11\n12\n"
    assert r.read("s.count") == "12"
    assert r.read("s.q") == "a b"


def test_return_and_arguments():
    r = build_router('s :: Script(TYPE PASSIVE, return $# [$1] [$2] [$3] $0 $write "$args")')
    assert r.read("s.run", param="a 'b c'") == "2 [a] ['b c'] [] run false \"a 'b c'\""
    r2 = build_router("s :: Script(TYPE PASSIVE, returnq \"x y\")")
    assert r2.read("s.run") == "x y"


def test_pid_and_dollar_sign(capfd):
    import os
    assert lines("Script(print $$, stop)", capfd) == [str(os.getpid())]


def test_pause_and_step(capfd):
    out = lines("""s :: Script(print "a", pause, print "b", pause 3, print "c");
                   Script(wait 1, write s.step, wait 1, write s.step, wait 1, write s.step, print "d", write s.step, stop)""",
                capfd)
    assert out == ["a", "b", "d", "c"]


def test_step_ends_a_wait_early(capfd):
    out = lines("""s :: Script(wait 10, print $(now));
                   Script(wait 0.5s, write s.step, wait 1, stop)""", capfd)
    assert out == ["1000000000.500000"]


def test_wait_with_substituted_time(capfd):
    out = lines("Script(set t 250ms, wait $t, print $(now), stop)", capfd)
    assert out == ["1000000000.250000"]


def test_goto_handler(capfd):
    out = lines("""s :: Script(TYPE PASSIVE, print "one", label two, print "two", pause, print "three");
                   Script(write s.goto two, write s.step, stop)""", capfd)
    assert out == ["two", "three"]
    r = build_router("s :: Script(TYPE PASSIVE, label x)")
    with pytest.raises(HandlerError, match="jump to nonexistent label"):
        r.write("s.goto", "nowhere")
    with pytest.raises(HandlerError, match="syntax error"):
        r.write("s.step", "many")


def test_stop_instruction_stops_the_router(capfd):
    out = lines('Script(print "a", stop, print "never"); Script(wait 5, print "late")', capfd)
    assert out == ["a"]


def test_stop_handler_write(capfd):
    out = lines('Script(print "a", write stop, print "b"); Script(wait 5, print "late")', capfd)
    assert out == ["a", "b"]


def test_local_handlers_need_no_element_name(capfd):
    out = lines("""define($j sub)
        Script(print $(add 1 2), set i add, print $($i 3 4), print $($(s.run).name), print $($j 8 5),
               print $($j.run), stop)
        s :: Script(TYPE PASSIVE, return i2)
        sub :: Script(TYPE PASSIVE, return Hello)
        i1, i2 :: Idle""", capfd)
    assert out == ["3", "7", "i2", "3", "Hello"]


def test_compound_relative_names(capfd):
    out = lines("""elementclass C { c :: Counter; Script(print c.name, print $(c.name), stop); Idle -> c -> Idle }
                   x :: C""", capfd)
    assert out == ["x/c", "x/c"]


def test_proxy_script():
    r = build_router("""p :: Script(TYPE PROXY,
          goto nota $(ne $0 a), returnq "you called 'a'", label nota,
          goto notb $(ne $0 b), return $write $args, label notb,
          error bad handler)""")
    assert r.read("p.a") == "you called 'a'"
    assert r.read("p.b", param="x") == "false x"
    r.write("p.b", "1")
    with pytest.raises(HandlerError, match="bad handler"):
        r.read("p.zzz")
    r.write("p.*", "made")
    assert "made\t" in r.read("p.handlers")


# --- packets ----------------------------------------------------------------------------


def test_packet_script_push(capfd):
    r, _, _ = run("""InfiniteSource(LIMIT 10, STOP true)
        -> s :: Script(TYPE PACKET, init i 0, set i $(add $i 1), return $(mod $i 3));
        s[0] -> c0 :: Counter -> Discard; s[1] -> c1 :: Counter -> Discard""", capfd)
    assert (r.read("c0.count"), r.read("c1.count")) == ("3", "4")  # port 2 is unconnected: dropped


def test_packet_script_end_exit_and_input(capfd):
    r, _, _ = run("""i0 :: InfiniteSource(LIMIT 3, STOP true) -> s :: Script(TYPE PACKET, export last, set last $input, end);
        i1 :: InfiniteSource(LIMIT 2) -> [1] s;
        s -> c :: Counter -> Discard;
        InfiniteSource(LIMIT 4, STOP true) -> Script(TYPE PUSH, exit) -> d :: Counter -> Discard;
        InfiniteSource(LIMIT 4, STOP true) -> Script -> e :: Counter -> Discard""", capfd)
    assert r.read("c.count") == "5"
    assert r.read("s.last") in ("0", "1")
    assert r.read("d.count") == "0"   # exit drops
    assert r.read("e.count") == "4"   # a Script with ports is a PACKET script


def test_packet_script_pull(capfd):
    r, _, _ = run("""InfiniteSource(LIMIT 10, STOP true) -> Queue
        -> s :: Script(TYPE PACKET, export i 0, set i $(add $i 1), return $(mod $i 3))
        -> Unqueue -> c0 :: Counter -> Discard;
        s[1] -> c1 :: Counter -> Discard; s[2] -> c2 :: Counter -> Discard;
        DriverManager(pause, wait 1, stop)""", capfd)
    assert [r.read(f"c{i}.count") for i in range(3)] == ["3", "4", "3"]


# --- through the command line ---------------------------------------------------------------


def test_run_from_command_line_with_handler_errors():
    p = run_config("s :: Script(TYPE PASSIVE, export n 5, error oops $1)", "-q", "-h", "s.n", "-h", "s.run")
    assert p.stdout == "s.n:\n5\n\n"
    assert "oops" in p.stderr and p.returncode == 1


def test_handlers_listing():
    r = build_router("s :: Script(TYPE PASSIVE, export v 1)")
    names = {line.split("\t")[0] for line in r.read("s.handlers").splitlines()}
    assert {"step", "goto", "run", "add", "sprintf", "now", "get", "set", "shift", "v", "cat", "kill"} <= names
    assert "*" not in names


# --- bad configurations ------------------------------------------------------------------------


def _errors(config):
    with pytest.raises(ConfigError) as info:
        build_router(config)
    return info.value.diagnostics.format()


def test_bad_instructions_are_configure_errors():
    text = _errors("s :: Script(frob 1, set x, goto nowhere, wait 3 fortnights, label a b, print ok)")
    assert "While configuring 's :: Script':" in text
    for message in ("syntax error at 'frob'", "syntax error at 'set'", "no such label 'nowhere'",
                    "syntax error at 'wait'", "syntax error at 'label'"):
        assert message in text


@pytest.mark.parametrize("config, message", [
    ("Script(TYPE FOO)", "bad TYPE"),
    ("Script(TYPE ACTIVE NOW)", "bad TYPE"),
    ("Script(TYPE SIGNAL)", "bad signal number"),
    ("Script(TYPE SIGNAL INT BOGUS)", "bad signal number"),
    ("Script(TYPE SIGNAL 40)", "bad signal number"),
    ("Idle -> Script(TYPE PASSIVE) -> Idle", "ports allowed only on PACKET scripts"),
    ("Script(TYPE PACKET) -> Idle", "PACKET script must have inputs"),
    ("Script(TYPE DRIVER); DriverManager", "router has more than one driver script"),
])
def test_bad_types(config, message):
    assert message in _errors(config)
