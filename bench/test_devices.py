"""Forwarding through clickpy between veth interfaces, each backend, with
the kernel's forwarding of the same traffic as the baseline (run as root):

    pytest bench/test_devices.py --benchmark-enable -s
    sudo python bench/veth_forwarding.py -v          # the same, as a report

The rates are taken over a fixed window by bench/veth_forwarding.py (the
benchmark fixture times the whole run once); they go in extra_info and are
printed.
"""
import io
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import veth_forwarding  # noqa: E402

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("trafgen") is None, reason="needs trafgen (Debian package netsniff-ng)"),
]


# The measuring window; tests of the benchmarks themselves shorten it.
SECONDS = float(os.environ.get("CLICKPY_BENCH_SECONDS", "3"))


from netns import needs_afxdp  # noqa: E402 (veth_forwarding put tests/ on the path)


@pytest.mark.parametrize("mode", [pytest.param("afxdp", marks=needs_afxdp), "afpacket",
                                  pytest.param("rx-afxdp", marks=needs_afxdp), "rx-afpacket"])
def test_veth_forwarding(benchmark, mode):
    out = io.StringIO()

    def run():
        return veth_forwarding.run([mode], seconds=SECONDS, warmup=min(1.0, SECONDS / 3), out=out)

    results = benchmark.pedantic(run, rounds=1, iterations=1)
    kernel, mine = results[0], results[-1]
    assert kernel["mode"] == "kernel" and mine["mode"] == mode
    assert kernel["mpps"] > 0 and mine["mpps"] > 0, out.getvalue()
    benchmark.extra_info.update(mpps=round(mine["mpps"], 3), kernel_mpps=round(kernel["mpps"], 3),
                                ratio=round(mine["mpps"] / kernel["mpps"], 2),
                                offered_mpps=round(mine["offered_mpps"], 3),
                                cpu=round(mine["cpu"], 2), cpu_wait=round(mine["cpu_wait"], 2))
    print("\n" + out.getvalue())
