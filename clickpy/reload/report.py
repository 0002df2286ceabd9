"""What a reload did: the elements by action, the state carried, the pause, the loss."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from clickpy.reload.diff import ADD, KEEP, RECONFIGURE, REMOVE, REPLACE, REWIRE, PlanDiff


# How each kind of state a take_state returns reads in the report.
_CARRIED = {"packets": "{} queued packets", "mappings": "{} NAT mappings", "entries": "{} table entries",
            "flows": "{} flows", "counts": "the counts of {} elements"}


@dataclass
class ReloadReport:
    kept: list[str] = field(default_factory=list)
    rewired: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    carried: dict[str, int] = field(default_factory=dict)  # packets, mappings, entries, flows, counts
    pause_us: float = 0.0   # from the old graph's last batch to the new graph's first
    lost: int = 0           # packets the reload destroyed (removed queues, queues that shrank)

    @classmethod
    def of(cls, d: PlanDiff) -> "ReloadReport":
        return cls(kept=d.names(KEEP), rewired=d.names(REWIRE), reconfigured=d.names(RECONFIGURE),
                   replaced=d.names(REPLACE), added=d.names(ADD), removed=d.names(REMOVE))

    def carry(self, counts: dict | None) -> None:
        for k, v in (counts or {}).items():
            self.carried[k] = self.carried.get(k, 0) + int(v)

    def as_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        def names(xs):
            return f"{len(xs)}" + (f" ({', '.join(xs[:8])}{', ...' if len(xs) > 8 else ''})" if xs else "")

        carried = ", ".join(_CARRIED.get(k, "{} " + k).format(v) for k, v in sorted(self.carried.items())
                            if k != "dropped") or "nothing"
        return "\n".join([
            f"kept {len(self.kept)}, rewired {names(self.rewired)}, reconfigured {names(self.reconfigured)}",
            f"replaced {names(self.replaced)}, added {names(self.added)}, removed {names(self.removed)}",
            f"state carried: {carried}",
            f"pause {self.pause_us:.0f} us, packets lost {self.lost}",
        ]) + "\n"
