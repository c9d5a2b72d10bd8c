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


def test_built_wheel_contains_rules_demo_and_templates(tmp_path):
    """Build the real wheel: an editable install (what the suite runs on) would hide a packaging gap."""
    import subprocess
    import sys
    import zipfile

    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("govbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rule_file in (ROOT / "rules").glob("*.yaml"):
        assert f"bot/rules/{rule_file.name}" in names
    assert {"bot/demo/workspace.json", "bot/demo/govbot.yaml", "bot/digest/templates/page.html",
            "bot/engine/checks/values.py", "bot/runs/batch.py", "bot/service/jobs.py"} <= names
    # The demo's generator is a development tool: the wheel ships only the workspace it wrote.
    assert not any(name.startswith("tools/") or name.endswith("synth.py") for name in names)
