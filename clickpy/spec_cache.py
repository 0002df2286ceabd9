"""Specialised modules, compiled once per Plan and kept in a cache folder.

``load(plan)`` returns the specialised module of plan (clickpy.specialize),
compiling it the first time: the generated Cython goes through ``cython``
and the system's C compiler into a shared object kept under
``cache_dir()``, named by the Plan's hash, the generator that made it
(clickpy.specialize.module_name) and this Python's ABI. The second
time it is an import. The folder is kept under a size limit
(``CLICKPY_CACHE_MAX_MB``, 256 by default): the least recently used entries
go first. ``clickpy cache clear`` empties it.

A build needs Cython and a C compiler; a machine without them keeps the
generic path, with the reason (``BuildError``).
"""
from __future__ import annotations

import importlib.util
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from clickpy.plan import Plan
from clickpy.specialize import Specialization, generate, module_name

DEFAULT_MAX_MB = 256
BUILD_TIMEOUT = 300.0        # seconds a build may take before it counts as failed


class BuildError(Exception):
    """A specialised module could not be made (no compiler, a compile error)."""


def cache_dir() -> Path:
    """CLICKPY_CACHE_DIR, else clickpy/specialized under the user's cache
    folder (XDG_CACHE_HOME, else ~/.cache)."""
    explicit = os.environ.get("CLICKPY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clickpy" / "specialized"


def max_bytes() -> int:
    try:
        return max(0, int(os.environ.get("CLICKPY_CACHE_MAX_MB", DEFAULT_MAX_MB))) << 20
    except ValueError:
        return DEFAULT_MAX_MB << 20


def abi_suffix() -> str:
    """This Python's extension-module suffix: names its ABI (a module built
    for another cannot be loaded)."""
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def cached_path(plan_hash: str) -> Path:
    return cache_dir() / (module_name(plan_hash) + abi_suffix())


def lookup(plan_hash: str):
    """The cached module of a Plan's hash, imported; None when there is none."""
    path = cached_path(plan_hash)
    if not path.exists():
        return None
    try:
        os.utime(path)                  # recently used: pruned last
    except OSError:
        pass                            # (a cache this user may read but not write)
    return _import(path)


def load(plan: Plan, router=None):
    """plan's specialised module: from the cache, else built now (blocking;
    from router's walks when a router of plan is given). None when nothing
    in plan is specialised. Raises BuildError."""
    plan_hash = plan.content_hash
    module = lookup(plan_hash)
    if module is not None:
        return module
    spec = generate(plan, router)
    if spec.empty:
        return None
    return _import(build(spec))


def specialize_now(router) -> str:
    """Give router its specialised module, built now if need be; what the
    'specialized' handler says of it. Raises BuildError."""
    from clickpy.specialize import describe, install

    module = load(router.plan, router)
    if module is None:
        return "nothing to specialise"
    return describe(install(router, module))


def build(spec: Specialization) -> Path:
    """Compile spec into the cache; its path."""
    try:
        return _build(spec)
    except OSError as e:
        raise BuildError(f"cannot write the cache folder {cache_dir()}: {e.strerror or e}") from None


def _build(spec: Specialization) -> Path:
    target = cached_path(spec.plan_hash)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        pyx = Path(tmp) / f"{spec.module}.pyx"
        c_file = pyx.with_suffix(".c")
        so = Path(tmp) / target.name
        pyx.write_text(spec.source)
        include = _pxd_tree(Path(tmp) / "pxd")
        _run([sys.executable, "-m", "cython", "-3", "--fast-fail", "-I", str(include),
              "-o", str(c_file), str(pyx)], "cython")
        cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
        includes = [f"-I{sysconfig.get_paths()['include']}"]
        _run(cc + ["-O2", "-fPIC", "-shared", "-fno-strict-aliasing", *includes,
                   str(c_file), "-o", str(so)], "the C compiler")
        os.replace(so, target)           # whole or not at all, for a process that looks meanwhile
    prune()
    return target


def _pxd_tree(root: Path) -> Path:
    """A folder where Cython finds clickpy's .pxd files under their import
    names (a chain cimports the element classes it calls). The element
    library is installed as clickpy.elements but, in a source checkout, lives
    in elements/ beside clickpy/: the tree links each package where it is."""
    import clickpy

    pkg = root / "clickpy"
    pkg.mkdir(parents=True)
    base = Path(clickpy.__file__).parent
    links = {p.name: p for p in base.iterdir() if p.is_dir() or p.name == "__init__.py"}
    for sub in ("elements", "netmap_shim"):
        try:
            links[sub] = Path(importlib.import_module(f"clickpy.{sub}").__file__).parent
        except ImportError:
            pass
    for name, target in links.items():
        (pkg / name).symlink_to(target)
    return root


def _run(argv: list[str], what: str) -> None:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except FileNotFoundError:
        raise BuildError(f"{what} is not installed ({argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took more than {BUILD_TIMEOUT:g} s") from None
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
        if what == "cython" and "No module named cython" in (r.stderr or ""):
            raise BuildError("Cython is not installed in this Python (pip install cython)")
        raise BuildError(f"{what} failed: " + " | ".join(tail))


def _import(path: Path):
    name = path.name[:-len(abi_suffix())]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BuildError(f"{path}: not a module this Python can load")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise BuildError(f"{path}: {e}") from None
    sys.modules[name] = module
    return module


def import_bytes(name: str, so: bytes):
    """Import a specialised module from its shared object's bytes (a guest
    image carries them): written to a private temporary folder, loaded, and
    the file removed (the loaded code stays mapped)."""
    if name in sys.modules:
        return sys.modules[name]
    with tempfile.TemporaryDirectory(prefix="clickpy-spec-") as tmp:
        path = Path(tmp) / (name + abi_suffix())
        path.write_bytes(so)
        return _import(path)


def entries() -> list[Path]:
    d = cache_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.name.startswith("clickpy_spec_") and p.is_file())


def prune(limit: int | None = None) -> int:
    """Remove the least recently used modules until the folder holds at most
    limit bytes (default max_bytes()); how many were removed."""
    limit = max_bytes() if limit is None else limit
    _remove_builds(older_than=BUILD_TIMEOUT)      # left by a build that was killed
    files = sorted(entries(), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    removed = 0
    while files and total > limit:
        p = files.pop(0)
        total -= p.stat().st_size
        p.unlink(missing_ok=True)
        removed += 1
    return removed


def clear() -> int:
    """Empty the cache (its modules and any build left half done); how many
    modules were removed. Nothing else in the folder is touched."""
    files = entries()
    for p in files:
        p.unlink(missing_ok=True)
    _remove_builds(older_than=0)
    return len(files)


def _remove_builds(older_than: float) -> None:
    """Remove the cache's build folders last changed more than older_than seconds ago."""
    d = cache_dir()
    if not d.is_dir():
        return
    for p in d.glob(".build-*"):
        try:
            if time.time() - p.stat().st_mtime >= older_than:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def summary() -> dict:
    files = entries()
    return {"folder": str(cache_dir()), "modules": len(files),
            "bytes": sum(p.stat().st_size for p in files), "limit": max_bytes()}


class BackgroundSpecialization:
    """Build a running router's specialised module in a child process and
    install it, between two task runs, when it is ready: the router starts on
    the generic path at once and nothing stops while the compiler runs.

    ``state`` (the router's ``specialized`` handler): "building", "nothing to
    specialise", "installed: NAMES", "failed: REASON" or "cancelled"."""

    def __init__(self, router, on_failure=None):
        self.router = router
        self.on_failure = on_failure
        self.proc = None
        self.state = "building"
        module = lookup(router.plan.content_hash)
        if module is not None:
            self._install(module)
            return
        # Its error messages go to a file: a pipe nobody reads until the end
        # would stop the build once it held 64 KiB of compiler warnings.
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "clickpy.spec_cache"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, start_new_session=True)
        try:
            self.proc.stdin.write(router.plan.pack())
            self.proc.stdin.close()
        except OSError:
            pass                        # (it died: its exit says why)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._out = b""
        router.scheduler.add_fd(self.proc.stdout.fileno(), selectors.EVENT_READ, self._readable)

    def _readable(self, fd, _events) -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            self._out += chunk
            return
        self.router.scheduler.remove_fd(fd)
        proc, self.proc = self.proc, None
        proc.stdout.close()
        code = proc.wait()
        self._err.seek(0)
        err = self._err.read().decode(errors="replace").strip()
        self._err.close()
        answer = self._out.decode(errors="replace").strip()
        if code != 0:
            self._fail(err.splitlines()[-1] if err else f"the build exited with status {code}")
        elif answer == "none":
            self.state = "nothing to specialise"
        else:
            try:
                self._install(_import(Path(answer)))
            except BuildError as e:
                self._fail(str(e))

    def _install(self, module) -> None:
        from clickpy.specialize import describe, install

        self.state = describe(install(self.router, module))

    def _fail(self, reason: str) -> None:
        self.state = f"failed: {reason}"
        if self.on_failure is not None:
            self.on_failure(reason)

    def cancel(self) -> None:
        """Stop a build still running (the router is done)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            self.state = "cancelled"
            try:
                self.router.scheduler.remove_fd(proc.stdout.fileno())
            except (ValueError, OSError):
                pass
            try:
                os.killpg(proc.pid, signal.SIGTERM)     # the build and its compiler (its own session)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                proc.wait()
            proc.stdout.close()
            self._err.close()


def _main() -> int:
    """The child's side: a packed Plan on stdin -> the module's path on stdout
    ("none": nothing to specialise); a failure is a line on stderr, status 1."""
    # Cancelled: end like an exception, so that the build's folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    plan = Plan.unpack(sys.stdin.buffer.read())
    try:
        spec = generate(plan)
        if spec.empty:
            print("none")
            return 0
        print(build(spec))
        return 0
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main())
