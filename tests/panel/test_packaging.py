"""The panel hosts' distribution (packaging/cdnpanel) pins what the repository pins, declares every
third-party import, and its wheel carries the templates and the served uPlot files."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = REPO / "packaging" / "cdnpanel" / "pyproject.toml"


def _requirements(path: Path) -> dict[str, str]:
    project = tomllib.loads(path.read_text())["project"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in project["dependencies"]}


def test_dependencies_carry_the_repository_pins():
    repository = _requirements(REPO / "pyproject.toml")
    version = tomllib.loads((REPO / "packaging" / "streamstats" / "pyproject.toml").read_text())["project"][
        "version"
    ]
    for name, specifier in _requirements(DISTRIBUTION).items():
        assert specifier.startswith("=="), f"{name} is not pinned"
        expected = f"=={version}" if name == "streamstats" else repository.get(name)
        assert specifier == expected, f"{name}: {specifier} here, {expected} in the repository"


def test_every_third_party_import_is_a_dependency():
    imported = set()
    for source in (REPO / "src" / "cdnpanel").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    distributions = packages_distributions()
    declared = set(_requirements(DISTRIBUTION))
    assert "streamstats" in imported and "streamstats" in declared
    first_party = {p.name for p in (REPO / "src").iterdir() if p.is_dir()}
    third_party = {distributions[n][0].lower() for n in imported - first_party if n in distributions}
    assert third_party <= declared, f"imported but not declared: {sorted(third_party - declared)}"


def test_the_wheel_carries_templates_and_assets(tmp_path: Path):
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
             str(DISTRIBUTION.parent)],
            check=True, capture_output=True, env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )  # fmt: skip
    finally:
        shutil.rmtree(REPO / "src" / "cdnpanel.egg-info", ignore_errors=True)
        shutil.rmtree(DISTRIBUTION.parent / "build", ignore_errors=True)
    names = zipfile.ZipFile(next(tmp_path.glob("cdnpanel-*.whl"))).namelist()
    for needed in (
        "cdnpanel/templates/usage.html",
        "cdnpanel/static/panel.js",
        "cdnpanel/static/vendor/uPlot.iife.min.js",
    ):
        assert needed in names
    assert {n.split("/")[0] for n in names} == {"cdnpanel", "cdnpanel-0.1.0.dist-info"}
