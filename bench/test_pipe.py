"""Pipe throughput between two processes, per mode (see bench/pipe_throughput.py):

    pytest bench/test_pipe.py --benchmark-enable -s
    python bench/pipe_throughput.py                  # the same, as a report

The benchmark fixture times one whole run; the receiver's rate (Mpps over
its first-to-last frame) goes in extra_info and is printed.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pipe_throughput  # noqa: E402

FRAMES = 2_000_000


@pytest.mark.parametrize("mode", pipe_throughput.MODES)
def test_pipe_throughput(benchmark, mode):
    result = benchmark.pedantic(pipe_throughput.run, args=(mode, FRAMES), rounds=1, iterations=1)
    keys = ("mpps", "gbps", "frames", "length", "batch", "slots")
    benchmark.extra_info.update({k: result[k] for k in keys})
    print(f"\npipe {mode}: {result['mpps']:.2f} Mpps, {result['gbps']:.2f} Gbit/s "
          f"({result['frames']} frames)")
    assert result["frames"] == FRAMES and result["errors"] == 0 and result["error"] is None
