"""A guest image: one file a switch starts a sandboxed guest from.

It holds the checked Plan of the guest's configuration (so a guest never
parses source), the Plan's content hash, the element modules the Plan needs,
the ports it declares (the device names its FromDevice/ToDevice elements use:
the switch attaches a ring pair to each), and metadata: the memory cap and the
handlers the guest exports to its controller.

It may also carry the Plan's specialised module (clickpy.specialize), compiled
when the image was built, so that a guest never compiles: the shared object's
bytes, its module name, the Python ABI it was built for (EXT_SUFFIX) and its
SHA-256. A switch whose Python has another ABI runs the guest on the generic
path. The module is native code: an image is trusted as the element modules
it names are.

The file is a magic line, then one msgpack map of plain strings, numbers and
the packed Plan: reading one runs no code. A damaged file, one of another
format, or one whose Plan does not match its hash (or whose module does not
match its digest) is a GuestImageError.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import msgpack

from clickpy.lang.confstring import split_args
from clickpy.plan import Plan

MAGIC = b"clickpy guest image\n"
FORMAT = 1
DEFAULT_MEMORY_CAP = 64 << 20     # bytes


_SIZE = re.compile(r"(\d+)\s*([kKmMgG]?)(?:i?[bB])?\Z")


def parse_size(value) -> int:
    """A memory size: '64M' (K, M, G: powers of 1024; 'MiB' and 'MB' too) or a byte count -> bytes.
    ValueError if it is not a positive size."""
    if type(value) is int:
        n = value
    else:
        m = _SIZE.match(value.strip()) if isinstance(value, str) else None
        if not m:
            raise ValueError(value)
        n = int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
    if not 0 < n < 1 << 48:
        raise ValueError(value)
    return n


class GuestImageError(Exception):
    """An image that cannot be used; says why in one line."""


@dataclass
class GuestImage:
    plan: Plan
    modules: list[str] = field(default_factory=list)   # element modules the Plan's classes live in
    ports: list[str] = field(default_factory=list)     # device names the configuration uses
    memory_cap: int = DEFAULT_MEMORY_CAP
    exports: list[str] = field(default_factory=list)   # ELEMENT.HANDLER the controller may call ('*': all)
    clickpy_version: str = ""
    # The configuration's text, file name and NAME=value parameters, so that a
    # switch can give a tenant other parameters (plan_with); None: only the Plan.
    source: dict | None = None
    # The specialised module: {"name", "abi", "sha256", "so" (bytes), "walks" (element names)}, or None.
    specialized: dict | None = None

    @property
    def content_hash(self) -> str:
        return self.plan.content_hash

    def pack(self) -> bytes:
        return MAGIC + msgpack.packb({
            "format": FORMAT, "clickpy": self.clickpy_version, "hash": self.content_hash,
            "plan": self.plan.pack(), "modules": self.modules, "ports": self.ports,
            "memory_cap": self.memory_cap, "exports": self.exports, "source": self.source,
            "specialized": self.specialized,
        }, use_bin_type=True)

    def specialized_module(self) -> tuple[str, bytes] | None:
        """(module name, shared object) when the image carries a specialised
        module this Python can load (the same ABI); else None."""
        from clickpy.spec_cache import abi_suffix

        s = self.specialized
        if s is None or s["abi"] != abi_suffix():
            return None
        return s["name"], s["so"]

    @classmethod
    def load(cls, path: str) -> "GuestImage":
        """Read an image file; GuestImageError (naming the file) if it cannot be used."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise GuestImageError(f"{path}: {e.strerror}") from None
        try:
            return cls.unpack(data)
        except GuestImageError as e:
            raise GuestImageError(f"{path}: {e}") from None

    def plan_with(self, parameters: dict[str, str]) -> Plan:
        """The image's Plan, or with parameters: its configuration planned again with them."""
        if not parameters:
            return self.plan
        if self.source is None:
            raise GuestImageError("the image carries no configuration text, so it takes no parameters")
        from clickpy import pipeline
        from clickpy.errors import ConfigError

        try:
            return pipeline.plan(pipeline.Source(self.source["text"], self.source["filename"]),
                                 {**self.source["definitions"], **parameters})
        except ConfigError as e:
            raise GuestImageError(f"with parameters {' '.join(f'{k}={v}' for k, v in parameters.items())}:\n"
                                  f"{e.diagnostics.format().rstrip()}") from None

    @classmethod
    def unpack(cls, data: bytes) -> "GuestImage":
        if not data.startswith(MAGIC):
            raise GuestImageError("not a clickpy guest image")
        try:
            m = msgpack.unpackb(data[len(MAGIC):], raw=False)
        except (ValueError, msgpack.UnpackException) as e:
            raise GuestImageError(f"damaged guest image ({e})") from None
        if not isinstance(m, dict):
            raise GuestImageError("damaged guest image (no header map)")
        if m.get("format") != FORMAT:
            raise GuestImageError(f"guest image of format {m.get('format')!r}; this clickpy reads format {FORMAT}")
        try:
            plan = Plan.unpack(m["plan"])
            image = cls(plan, _strings(m["modules"]), _strings(m["ports"]), int(m["memory_cap"]),
                        _strings(m["exports"]), str(m["clickpy"]), _source(m.get("source")),
                        _specialized(m.get("specialized")))
            stated = str(m["hash"])
        except (KeyError, TypeError, ValueError) as e:
            raise GuestImageError(f"damaged guest image ({e})") from None
        if image.content_hash != stated:
            raise GuestImageError("damaged guest image (its plan does not match its hash)")
        if image.memory_cap <= 0:
            raise GuestImageError("damaged guest image (memory cap must be positive)")
        return image

    def describe(self) -> str:
        """What 'clickpy inspect' prints."""
        lines = [f"guest image, format {FORMAT}, built by clickpy {self.clickpy_version}",
                 f"hash       {self.content_hash}",
                 f"memory cap {self.memory_cap >> 20} MiB" if self.memory_cap % (1 << 20) == 0
                 else f"memory cap {self.memory_cap} bytes",
                 f"ports      {', '.join(self.ports) or '(none)'}",
                 f"source     " + (f"{self.source['filename']} ({len(self.source['text'])} bytes"
                                   + "".join(f", {k}={v}" for k, v in self.source['definitions'].items()) + ")"
                                   if self.source else "(none: takes no parameters)"),
                 f"exports    {', '.join(self.exports) or '(none)'}",
                 f"modules    {len(self.modules)}: {', '.join(self.modules)}",
                 "specialised " + (f"{len(self.specialized['so']) >> 10} KiB for {self.specialized['abi']}, "
                                   f"walks: {', '.join(self.specialized['walks']) or '(none)'}"
                                   if self.specialized else "(none: guests run the generic path)"),
                 f"elements   {len(self.plan.elements)}:"]
        for fe, ports in zip(self.plan.elements, self.plan.ports):
            io = f"{len(ports.inputs)}/{len(ports.outputs)}"
            config = ", ".join(" ".join(arg.split()) for arg in split_args(fe.config))  # one line, no comments
            lines.append(f"  {fe.name} :: {fe.class_name}" + (f"({config})" if config else "") + f"   [{io}]")
        return "\n".join(lines) + "\n"


def _source(v) -> dict | None:
    if v is None:
        return None
    if not (isinstance(v, dict) and isinstance(v.get("text"), str) and isinstance(v.get("filename"), str)
            and isinstance(v.get("definitions"), dict)
            and all(isinstance(k, str) and isinstance(x, str) for k, x in v["definitions"].items())):
        raise ValueError("the source must be a text, a file name and string definitions")
    return {"text": v["text"], "filename": v["filename"], "definitions": dict(v["definitions"])}


def _specialized(v) -> dict | None:
    if v is None:
        return None
    if not (isinstance(v, dict) and all(isinstance(v.get(k), str) for k in ("name", "abi", "sha256"))
            and isinstance(v.get("so"), bytes)):
        raise ValueError("the specialised module must be a name, an ABI, a digest and bytes")
    if not v["name"].startswith("clickpy_spec_") or not v["name"].isidentifier():
        raise ValueError(f"specialised module name {v['name']!r}")
    if hashlib.sha256(v["so"]).hexdigest() != v["sha256"]:
        raise ValueError("the specialised module does not match its digest")
    return {"name": v["name"], "abi": v["abi"], "sha256": v["sha256"], "so": v["so"],
            "walks": _strings(v.get("walks", []))}


def _strings(v) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of strings")
    return list(v)


def specialized_of(plan: Plan) -> dict | None:
    """plan's specialised module for an image (compiled now unless cached),
    or None when nothing in plan is specialised. Raises spec_cache.BuildError."""
    from clickpy import spec_cache

    module = spec_cache.load(plan)
    if module is None:
        return None
    so = spec_cache.cached_path(plan.content_hash).read_bytes()
    return {"name": module.__name__, "abi": spec_cache.abi_suffix(),
            "sha256": hashlib.sha256(so).hexdigest(), "so": so, "walks": sorted(module.WALKS)}


def build(plan: Plan, *, memory_cap: int = DEFAULT_MEMORY_CAP, exports=("*",), source=None,
          definitions=None, specialized: dict | None = None) -> GuestImage:
    """The image of a checked Plan: its classes' modules and the devices it
    names (and its specialised module, from specialized_of)."""
    import clickpy
    from clickpy.cli.deploy import device_names
    from clickpy.runtime import registry

    modules = sorted({registry.lookup(fe.class_name).__module__ for fe in plan.elements})
    carried = None if source is None else {"text": source.text, "filename": source.filename,
                                           "definitions": dict(definitions or {})}
    return GuestImage(plan, modules, device_names(plan.graph), memory_cap, list(exports), clickpy.__version__,
                      carried, specialized)
