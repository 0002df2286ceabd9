"""A guest image: one file a switch starts a sandboxed guest from.

It holds the checked Plan of the guest's configuration (so a guest never
parses source), the Plan's content hash, the element modules the Plan needs,
the ports it declares (the device names its FromDevice/ToDevice elements use:
the switch attaches a ring pair to each), and metadata: the memory cap and the
handlers the guest exports to its controller.

The file is a magic line, then one msgpack map of plain strings, numbers and
the packed Plan: reading one runs no code. A damaged file, one of another
format, or one whose Plan does not match its hash is a GuestImageError.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import msgpack

from clickpy.lang.confstring import split_args
from clickpy.plan import Plan

MAGIC = b"clickpy guest image\n"
FORMAT = 1
DEFAULT_MEMORY_CAP = 64 << 20     # bytes


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

    @property
    def content_hash(self) -> str:
        return self.plan.content_hash

    def pack(self) -> bytes:
        return MAGIC + msgpack.packb({
            "format": FORMAT, "clickpy": self.clickpy_version, "hash": self.content_hash,
            "plan": self.plan.pack(), "modules": self.modules, "ports": self.ports,
            "memory_cap": self.memory_cap, "exports": self.exports,
        }, use_bin_type=True)

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
                        _strings(m["exports"]), str(m["clickpy"]))
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
                 f"exports    {', '.join(self.exports) or '(none)'}",
                 f"modules    {len(self.modules)}: {', '.join(self.modules)}",
                 f"elements   {len(self.plan.elements)}:"]
        for fe, ports in zip(self.plan.elements, self.plan.ports):
            io = f"{len(ports.inputs)}/{len(ports.outputs)}"
            config = ", ".join(" ".join(arg.split()) for arg in split_args(fe.config))  # one line, no comments
            lines.append(f"  {fe.name} :: {fe.class_name}" + (f"({config})" if config else "") + f"   [{io}]")
        return "\n".join(lines) + "\n"


def _strings(v) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of strings")
    return list(v)


def build(plan: Plan, *, memory_cap: int = DEFAULT_MEMORY_CAP, exports=("*",)) -> GuestImage:
    """The image of a checked Plan: its classes' modules and the devices it names."""
    import clickpy
    from clickpy.cli.deploy import device_names
    from clickpy.runtime import registry

    modules = sorted({registry.lookup(fe.class_name).__module__ for fe in plan.elements})
    return GuestImage(plan, modules, device_names(plan.graph), memory_cap, list(exports), clickpy.__version__)
