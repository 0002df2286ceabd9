"""Every benchmark command the README shows runs and reports, here with short runs.

The commands are read from the README's Benchmarks section, so a command
added there without a quick form here fails this test. Figures are not
judged (that is what the benchmarks are for); each command must exit 0 and
print its report.
"""
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
from support import REPO, find_shared

ROOT = os.geteuid() == 0


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Benchmarks", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


# README command -> (extra arguments for a short run, what its report must show, what it needs)
QUICK = {
    "clickpy bench infsrc classify --burst 32":
        (["--limit", "200000", "--rounds", "1"], r"infsrc \[.*\]: [\d.]+ Mpps.*\nclassify \[.*\]: [\d.]+ Mpps", ()),
    "python bench/report.py frontend": ([], r"front end on a generated config: \d+ elements", ()),
    "python bench/report.py dataplane":
        (["--rounds", "1", "--limit", "100000"], r"classify \[.*BURST 32\]: [\d.]+ Mpps", ()),
    "python bench/report.py compare --click PATH":
        (["--rounds", "1", "--only", "a-infsrc"], r"a-infsrc-discard.click BURST=32 +Click +[\d.]+ +generic +[\d.]+ +specialised +[\d.]+ +ratios", ()),
    "python bench/per_hop.py":
        (["--limit", "50000", "--rounds", "1"], r"burst .* ns/hop\n(generic +1 +[-\d. ]+\n)(generic +32 +[-\d. ]+\n)specialised +1 +[-\d. ]+\n", ()),
    "python bench/specialize.py":
        (["--limit", "50000", "--rounds", "1"], r"mazu-nat.click +[1-9]\d* .*\n(.*\n)*b-fw-infsrc.click +1 +[\d.]+ +[\d.]+", ()),
    "pytest bench --benchmark-enable":
        (["-q", "-p", "no:cacheprovider", "--benchmark-max-time=0.02", "--benchmark-min-rounds=1",
          "--benchmark-warmup=off", "-k", "not veth_forwarding or afpacket"], r"passed", ()),
    "sudo .venv/bin/python bench/veth_forwarding.py":
        (["--seconds", "0.5", "--warmup", "0.3", "--only", "afpacket"], r"afpacket", ("root", "trafgen")),
    "sudo .venv/bin/python bench/firewall_nat_vs_kernel.py":
        (["--seconds", "0.5", "--warmup", "0.3", "--only", "kernel-fw", "fw-afpacket", "--no-memory"],
         r"fw-afpacket", ("root", "trafgen", "nft")),
    "python bench/pipe_throughput.py --pin": (["-n", "100000", "-r", "1"], r"Mpps", ()),
    "python bench/control_socket_flood.py": (["--seconds", "0.5"], r"flood +[\d.]+ +[\d.]+x", ()),
    "python bench/nat_exhaustion.py": (["--flows", "60000", "70000", "--runs", "1"], r"free-ports rate", ()),
    "python bench/reload.py": (["--reloads", "5"], r"memory, 1000 elements +5 .*\npause p50, 1,000", ()),
    "sudo .venv/bin/python bench/reload.py --veth": (["--reloads", "3"], r"veth, NAT \+ firewall +3 ", ("root",)),
    "sudo .venv/bin/python bench/guest_spinup.py": (["-n", "5"], r"pool: 5 starts, first packet in -> out: p50", ("root",)),
    "sudo .venv/bin/python bench/guest_spinup.py --memory 1000":
        (["--memory", "20"], r"20/20 idle guests started .*\nunique memory \(USS\) per guest: p50", ("root",)),
    "sudo .venv/bin/python bench/per_flow.py": (["--rate", "20", "--seconds", "1"], r"0 of 40 packets lost", ("root",)),
}


def argv_of(command: str, tmp_path) -> list[str]:
    words = command.split()
    if words[0] == "sudo":
        words = words[1:]
    if words[0] in ("python", ".venv/bin/python"):
        return [sys.executable, *words[1:]]
    if words[0] == "pytest":
        return [sys.executable, "-m", "pytest", *words[1:]]
    if words[0] == "clickpy":
        return [sys.executable, "-m", "clickpy", *words[1:]]
    raise AssertionError(f"unexpected command {command!r}")


def test_every_readme_command_has_a_quick_form():
    assert set(readme_commands()) == set(QUICK)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_benchmark_command_runs(command, tmp_path):
    extra, report, needs = QUICK[command]
    if "root" in needs and not ROOT:
        pytest.skip("needs root (network namespaces)")
    for tool in needs:
        if tool != "root" and shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    argv = argv_of(command, tmp_path)
    if "--click" in argv:
        # No Click binary here: a stand-in that runs the same files with
        # clickpy exercises the comparison end to end.
        if find_shared() is None:
            pytest.skip("needs the shared folder")
        fake = tmp_path / "click"
        fake.write_text(f"#!/bin/sh\nexec {sys.executable} -m clickpy run \"$@\"\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        argv[argv.index("PATH")] = str(fake)
    env = dict(os.environ, CLICKPY_BENCH_SECONDS="0.5")
    r = subprocess.run(argv + extra, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, f"{command} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert re.search(report, r.stdout), f"{command} printed no report:\n{r.stdout[-3000:]}"
