"""The system calls the guest sandbox needs that Python 3.11 lacks.

clickpy/guest/sandbox.py is the only user: it says in what order they run and
why. Each function is a thin wrapper that raises OSError on failure.
"""
import os

from libc.errno cimport EINVAL, errno
from libc.stdint cimport uint32_t
from libc.string cimport memset

cdef extern from "Python.h":
    void PyOS_BeforeFork()
    void PyOS_AfterFork_Parent()
    void PyOS_AfterFork_Child()

cdef extern from "<unistd.h>" nogil:
    long syscall(long number, ...)

cdef extern from "<sys/syscall.h>" nogil:
    long SYS_clone
    long SYS_capset
    long SYS_seccomp
    long SYS_get_robust_list
    long SYS_set_robust_list

cdef extern from "<sched.h>" nogil:
    unsigned long CLONE_CHILD_SETTID
    unsigned long CLONE_CHILD_CLEARTID

cdef extern from "<signal.h>" nogil:
    int SIGCHLD

cdef extern from "<sys/mount.h>" nogil:
    int c_mount "mount"(const char *source, const char *target, const char *fstype,
                        unsigned long flags, const void *data)
    int c_umount2 "umount2"(const char *target, int flags)

cdef extern from "<sys/prctl.h>" nogil:
    int PR_CAPBSET_DROP
    int PR_GET_TID_ADDRESS
    int c_prctl "prctl"(int option, unsigned long arg2, unsigned long arg3,
                        unsigned long arg4, unsigned long arg5)

cdef extern from "<linux/filter.h>" nogil:
    struct sock_filter:
        pass
    struct sock_fprog:
        unsigned short len
        sock_filter *filter

cdef extern from "<linux/seccomp.h>" nogil:
    int SECCOMP_SET_MODE_FILTER

# capset(2)'s structures, version 3 (64-bit capability sets in two halves).
cdef struct cap_header:
    uint32_t version
    int pid

cdef struct cap_data:
    uint32_t effective
    uint32_t permitted
    uint32_t inheritable

cdef uint32_t CAPABILITY_VERSION_3 = 0x20080522
cdef int BPF_INSTRUCTION_BYTES = 8     # sizeof(struct sock_filter)


cdef object _error(str what, int code):
    return OSError(code, f"{what}: {os.strerror(code)}")


def clone(unsigned long flags):
    """fork(2) with extra clone flags (CLONE_NEW*), in one clone(2) call.

    Wrapped as os.fork is: the interpreter's locks are taken before and reset
    after, and os.register_at_fork hooks run. Returns the child's pid (as the
    caller's namespace sees it) in the parent and 0 in the child.

    It does what glibc's fork() does for the C library's own state: the
    kernel writes the child's thread id into glibc's copy (the address glibc
    gave set_tid_address), and the child registers its robust mutex list
    again. Like fork() from a process with other threads, it is unsafe
    there: the caller checks it is single-threaded.
    """
    cdef long pid
    cdef int saved
    cdef unsigned long tid_at = 0
    cdef void *robust_head = NULL
    cdef size_t robust_len = 0
    cdef unsigned long asked = flags
    if c_prctl(PR_GET_TID_ADDRESS, <unsigned long>&tid_at, 0, 0, 0) == 0 and tid_at:
        flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID
    syscall(SYS_get_robust_list, 0, &robust_head, &robust_len)
    PyOS_BeforeFork()
    # No new stack: like fork, the child runs on a copy of the caller's.
    pid = syscall(SYS_clone, <unsigned long>(flags | SIGCHLD), <void *>NULL, <void *>NULL,
                  <void *>tid_at, <unsigned long>0)
    if pid == 0:
        if robust_head != NULL:
            syscall(SYS_set_robust_list, robust_head, robust_len)
        PyOS_AfterFork_Child()
        return 0
    saved = errno
    PyOS_AfterFork_Parent()
    if pid < 0:
        raise _error(f"clone(flags={asked:#x})", saved)
    return pid


def mount(source, target, fstype, unsigned long flags, options=None):
    """mount(2); source, fstype and options (the data string) may be None."""
    cdef bytes src = source.encode() if source is not None else None
    cdef bytes tgt = target.encode()
    cdef bytes fs = fstype.encode() if fstype is not None else None
    cdef bytes data = options.encode() if options is not None else None
    if c_mount(<const char *>src if src is not None else NULL, tgt,
               <const char *>fs if fs is not None else NULL, flags,
               <const char *>data if data is not None else NULL) != 0:
        raise _error(f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x}, {options!r})", errno)


def umount(target, int flags=0):
    """umount2(2)."""
    if c_umount2(target.encode(), flags) != 0:
        raise _error(f"umount2({target!r}, {flags:#x})", errno)


def prctl(int option, unsigned long arg2=0, unsigned long arg3=0):
    """prctl(2); returns its result."""
    cdef int result = c_prctl(option, arg2, arg3, 0, 0)
    if result < 0:
        raise _error(f"prctl({option}, {arg2}, {arg3})", errno)
    return result


def clear_capabilities():
    """capset(2) to empty effective, permitted and inheritable sets."""
    cdef cap_header header
    cdef cap_data data[2]
    header.version = CAPABILITY_VERSION_3
    header.pid = 0
    memset(data, 0, sizeof(data))
    if syscall(SYS_capset, &header, data) != 0:
        raise _error("capset(empty)", errno)


def load_seccomp_program(const unsigned char[:] program):
    """Install a compiled seccomp BPF program (struct sock_filter array) on
    the calling thread; the kernel copies it."""
    cdef sock_fprog fprog
    if len(program) == 0 or len(program) % BPF_INSTRUCTION_BYTES:
        raise ValueError("a seccomp program is a non-empty array of "
                         f"{BPF_INSTRUCTION_BYTES}-byte instructions")
    fprog.len = len(program) // BPF_INSTRUCTION_BYTES
    fprog.filter = <sock_filter *>&program[0]
    if syscall(SYS_seccomp, <unsigned long>SECCOMP_SET_MODE_FILTER, <unsigned long>0, &fprog) != 0:
        raise _error("seccomp(SET_MODE_FILTER)", errno)


def drop_bounding_set():
    """Drop every capability from the bounding set (needs CAP_SETPCAP); the
    kernel's last capability is the first one it calls invalid."""
    cdef int cap = 0
    while c_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if errno != EINVAL or cap == 0:
        raise _error(f"prctl(PR_CAPBSET_DROP, {cap})", errno)


def tid_address():
    """Where the C library keeps the calling thread's id (0 if the kernel
    will not say); a test reads it to check the child's copy is its own."""
    cdef unsigned long at = 0
    if c_prctl(PR_GET_TID_ADDRESS, <unsigned long>&at, 0, 0, 0) != 0:
        return 0
    return at
