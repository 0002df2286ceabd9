"""The sandbox's parts the zygote drives: the memory cgroup from creation to
removal, the compiled seccomp filter, and clone_sandboxed's refusal of a
multi-threaded caller. A sandboxed child's own view is in test_isolation.py."""
import errno
import os
import subprocess
import sys
import threading

import pytest

from clickpy.guest import sandbox, syscalls
from clickpy.guest.sandbox import MemoryCgroup, SandboxError


def _name(tag):
    return f"test-{os.getpid()}-{tag}"


@pytest.fixture
def cgroups():
    """Memory cgroups a test made; removed afterwards whatever happened."""
    made = []
    yield made
    for cg in made:
        if cg.exists:
            cg.remove()


@pytest.mark.root
def test_a_memory_cgroup_caps_memory_and_swap_holds_a_process_and_goes(cgroups):
    cg = MemoryCgroup(_name("life"), 48 << 20).create()
    cgroups.append(cg)
    assert int((cg.path / "memory.limit_in_bytes").read_text()) == 48 << 20
    if (cg.path / "memory.memsw.limit_in_bytes").exists():
        assert int((cg.path / "memory.memsw.limit_in_bytes").read_text()) == 48 << 20
    assert (cg.usage, cg.oom_kills, cg.pids()) == (0, 0, [])
    # It allocates 8 MiB once it is in the cgroup (charges made before do not move).
    code = ("import sys; sys.stdin.readline(); b = bytearray(b'x') * (8 << 20); "
            "print('done', flush=True); sys.stdin.read()")
    proc = subprocess.Popen(["python3", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        cg.join(proc.pid)
        assert cg.pids() == [proc.pid]
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"done\n"
        assert cg.usage >= 8 << 20
        with pytest.raises(SandboxError, match=r"still holds processes \[%d\]" % proc.pid):
            cg.remove()
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cg.max_usage >= 8 << 20
    for limit in (96 << 20, 16 << 20):     # up, then down below where it started
        cg.resize(limit)
        assert int((cg.path / "memory.limit_in_bytes").read_text()) == limit == cg.limit
        if (cg.path / "memory.memsw.limit_in_bytes").exists():
            assert int((cg.path / "memory.memsw.limit_in_bytes").read_text()) == limit
    cg.remove()
    assert not cg.exists
    with pytest.raises(SandboxError, match="does not exist"):
        cg.remove()
    with pytest.raises(SandboxError, match="does not exist"):
        cg.usage
    with pytest.raises(SandboxError, match="does not exist"):
        cg.join(os.getpid())


@pytest.mark.root
def test_a_memory_cgroup_made_twice_is_an_error(cgroups):
    cgroups.append(MemoryCgroup(_name("twice"), 1 << 20).create())
    with pytest.raises(SandboxError, match="exists already"):
        MemoryCgroup(_name("twice"), 1 << 20).create()


def test_a_missing_hierarchy_is_an_error(tmp_path):
    cg = MemoryCgroup("g", 1 << 20, hierarchy=tmp_path / "memory")
    with pytest.raises(SandboxError, match="no cgroup v1 memory controller mounted at"):
        cg.create()
    with pytest.raises(SandboxError, match="no cgroup v1 memory controller mounted at"):
        cg.oom_kills


@pytest.mark.parametrize("name, limit, message", [
    ("", 1, "one path component"), ("a/b", 1, "one path component"), ("..", 1, "one path component"),
    ("g", 0, "not a positive byte count"),
])
def test_a_bad_name_or_limit_is_an_error(name, limit, message):
    with pytest.raises(SandboxError, match=message):
        MemoryCgroup(name, limit)


def test_the_filter_is_a_bpf_program_that_names_every_denied_call():
    program = sandbox.compile_filter()
    assert program and len(program) % 8 == 0
    import pyseccomp

    for name in sandbox.DENIED:     # a name libseccomp did not know would have failed to compile
        assert pyseccomp.resolve_syscall(pyseccomp.system_arch(), name) > 0


def test_a_missing_seccomp_binding_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyseccomp", None)     # import fails
    sandbox.compile_filter.cache_clear()
    try:
        with pytest.raises(SandboxError, match="needs the pyseccomp package and the libseccomp2 library"):
            sandbox.compile_filter()
    finally:
        sandbox.compile_filter.cache_clear()


def test_a_damaged_program_is_refused_before_the_kernel_sees_it():
    with pytest.raises(ValueError, match="8-byte instructions"):
        syscalls.load_seccomp_program(b"\0" * 12)


def test_a_multi_threaded_caller_may_not_clone_a_sandbox():
    release = threading.Event()
    helper = threading.Thread(target=release.wait)
    helper.start()
    try:
        with pytest.raises(OSError, match="only a single-threaded process") as caught:
            sandbox.clone_sandboxed()
        assert caught.value.errno == errno.EINVAL
    finally:
        release.set()
        helper.join()


def test_a_clone_the_kernel_refuses_is_an_os_error_naming_the_flags():
    # CLONE_NEWUSER with CLONE_FS: the kernel refuses (EINVAL) and makes no child
    with pytest.raises(OSError, match=r"clone\(flags=0x10000200\): Invalid argument") as caught:
        syscalls.clone(sandbox.CLONE_NEWUSER | 0x200)
    assert caught.value.errno == errno.EINVAL


def _favor_mounts():
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if "favordynmods" in line.split()[3].split(",")]


@pytest.mark.root
def test_favouring_cgroup_moves_mounts_a_hierarchy_until_its_last_user_goes(tmp_path):
    first = sandbox.favor_cgroup_moves(tmp_path)
    try:
        assert first == tmp_path / f"favor-{os.getpid()}" and str(first) in _favor_mounts()
        assert sandbox.favor_cgroup_moves(tmp_path) == first        # a second user shares it
        sandbox.unfavor_cgroup_moves()
        assert str(first) in _favor_mounts()
    finally:
        sandbox.unfavor_cgroup_moves()
    assert str(first) not in _favor_mounts() and not first.exists()
    sandbox.unfavor_cgroup_moves()                # one call too many does nothing


@pytest.mark.root
def test_a_dead_switchs_favour_mount_is_swept(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()                                   # its pid names a process that is gone
    stale = tmp_path / f"favor-{child.pid}"
    stale.mkdir()
    syscalls.mount("cgroup", str(stale), "cgroup", 0, f"none,name=clickpy-test-{child.pid},favordynmods")
    live = tmp_path / f"favor-{os.getppid()}"      # a live process's mount stays
    live.mkdir()
    try:
        assert str(stale) in _favor_mounts()
        assert sandbox.sweep_favor_mounts(tmp_path) == [stale]
        assert str(stale) not in _favor_mounts() and not stale.exists() and live.exists()
    finally:
        if str(stale) in _favor_mounts():
            syscalls.umount(str(stale), sandbox.MNT_DETACH)


def test_a_favour_mount_that_cannot_be_made_is_a_clear_error(tmp_path):
    folder = tmp_path / "a-file"
    folder.write_text("")                          # no folder can be made under a file
    with pytest.raises(SandboxError, match=r"cannot mount a cgroup hierarchy with favordynmods at .*a-file"):
        sandbox.favor_cgroup_moves(folder)
    sandbox.unfavor_cgroup_moves()                 # nothing was mounted: nothing to undo
    assert folder.is_file()
