"""Port backends. Importing this package registers every backend with
``clickpy.netmap_shim.ring.register_backend``; a backend whose kernel feature
or library is missing still registers, and says why when a port is opened."""
import importlib
import pkgutil

from clickpy.netmap_shim.ring import PortError, backends, register_backend

# Why a backend module could not be imported (a library missing at run time).
LOAD_ERRORS: dict[str, str] = {}

for _info in pkgutil.iter_modules(__path__):
    try:
        importlib.import_module(f"{__name__}.{_info.name}")
    except ImportError as e:
        LOAD_ERRORS[_info.name] = str(e)

# The AF_XDP backend is built only where libxdp's headers were found (see
# setup.py), and loads only where libxdp is installed. Without it, an afxdp
# port says what to install, rather than that the port kind is unknown.
AFXDP_MISSING = ""
if "afxdp" not in backends():
    if "afxdp" in LOAD_ERRORS:
        AFXDP_MISSING = (f"the AF_XDP backend did not load ({LOAD_ERRORS['afxdp']}): install libxdp1 "
                         "and libbpf1 (Debian, Ubuntu)")
    else:
        AFXDP_MISSING = ("AF_XDP is not built into this clickpy: install libxdp-dev and libbpf-dev "
                         "(Debian, Ubuntu), then reinstall clickpy")

    def _afxdp_missing(name, **options):
        raise PortError(f"afxdp:{name}: {AFXDP_MISSING}")

    _afxdp_missing.missing = True
    register_backend("afxdp", _afxdp_missing)


def afxdp_built() -> bool:
    """Is the AF_XDP backend here (built, and its libraries loaded)?"""
    return not getattr(backends()["afxdp"], "missing", False)
