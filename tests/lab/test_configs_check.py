"""Every configuration in configs/ that runs on devices checks cleanly with
its defaults, and names its parameters in its header."""
import re

import pytest
from support import REPO

from clickpy import pipeline
from clickpy.cli.deploy import device_names
from clickpy.lab import PLAN

LAB_CONFIGS = ["stateless-firewall.click", "stateful-firewall.click", "nat-gateway.click", "nat-firewall.click",
               "ip-router.click", "tcp-load-balancer.click"]


@pytest.mark.parametrize("name", LAB_CONFIGS)
def test_config_checks_and_names_the_lab_devices(name):
    path = REPO / "configs" / name
    result = pipeline.load(pipeline.read_source(str(path)), dict(PLAN))
    assert result.ok, result.diagnostics.format()
    assert device_names(result.graph) == ["to-client", "to-server"]
    # With other device names given as NAME=value, those are the ones used.
    result = pipeline.load(pipeline.read_source(str(path)), {"CLIENT_DEV": "eth1", "SERVER_DEV": "eth2"})
    assert device_names(result.graph) == ["eth1", "eth2"]


@pytest.mark.parametrize("name", LAB_CONFIGS)
def test_header_documents_every_parameter_and_the_lab(name):
    text = (REPO / "configs" / name).read_text()
    header = text.split("define(")[0]
    define = re.search(r"define\((.*?)\);", text, re.S).group(1)
    for param in re.findall(r"\$([A-Z_0-9]+)", define):
        assert param in header, f"{name}: ${param} is not described in the header"
    assert "clickpy lab up configs/" + name in header
