import sys
import types

import pytest

from clickpy.clicktest import buildtool


@pytest.fixture
def catalog(monkeypatch):
    """A stand-in element catalog that implements only Queue and Discard."""
    module = types.ModuleType("clickpy.graph.catalog")
    module.is_implemented = lambda name: name in {"Queue", "Discard"}
    monkeypatch.setitem(sys.modules, "clickpy.graph.catalog", module)


def test_features_need_no_catalog(monkeypatch):
    monkeypatch.setitem(sys.modules, "clickpy.graph.catalog", None)  # importing it fails
    assert buildtool.main(["provides", "userlevel", "int64"]) == 0


def test_elements_come_from_the_catalog(catalog, capsys):
    assert buildtool.main(["provides", "Queue", "Discard", "userlevel"]) == 0
    assert buildtool.main(["provides", "Queue", "FromDump", "ip6"]) == 1
    assert capsys.readouterr().err == "click-buildtool: not provided: FromDump ip6\n"


def test_unavailable_catalog_means_not_provided(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "clickpy.graph.catalog", None)
    assert buildtool.main(["provides", "Queue"]) == 1
    assert "cannot consult clickpy's element catalog" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["elements"]])
def test_usage(argv, capsys):
    assert buildtool.main(argv) == 2
    assert capsys.readouterr().err == buildtool.USAGE + "\n"
