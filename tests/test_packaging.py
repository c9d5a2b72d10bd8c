"""The wheel carries everything a fresh `pip install .` needs: every package, the rule pack, the demo."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "bot").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "bot.rules" in listed


def test_package_data_covers_the_rule_pack_demo_and_templates():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = setup["package-data"]
    assert setup["package-dir"]["bot.rules"] == "rules"
    assert any((ROOT / "rules").glob(pattern) for pattern in data["bot.rules"])
    assert any((ROOT / "bot" / "demo").glob(pattern) for pattern in data["bot.demo"] if pattern.endswith("json"))
    assert any((ROOT / "bot" / "digest").glob(pattern) for pattern in data["bot.digest"])
