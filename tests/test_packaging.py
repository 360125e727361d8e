"""The analytics hosts' distribution (packaging/streamstats) pins what the repository pins."""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement

from lab.paths import REPO_ROOT


def clean_build_debris() -> None:
    """An in-tree build leaves streamstats.egg-info in src/, where it would pass for an installed copy."""
    shutil.rmtree(REPO_ROOT / "src" / "streamstats.egg-info", ignore_errors=True)
    shutil.rmtree(REPO_ROOT / "packaging" / "streamstats" / "build", ignore_errors=True)


def _requirements(path) -> dict[str, str]:
    project = tomllib.loads(path.read_text())["project"]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in project["dependencies"]}


def test_streamstats_dependencies_carry_the_repository_pins():
    repository = _requirements(REPO_ROOT / "pyproject.toml")
    hosts = _requirements(REPO_ROOT / "packaging" / "streamstats" / "pyproject.toml")
    assert hosts, "the hosts' distribution lists its dependencies"
    for name, specifier in hosts.items():
        assert specifier.startswith("=="), f"{name} is not pinned"
        assert repository.get(name) == specifier, (
            f"{name}: {specifier} here, {repository.get(name)} in pyproject.toml"
        )


def test_every_third_party_import_of_streamstats_is_a_dependency():
    imported = set()
    for source in (REPO_ROOT / "src" / "streamstats").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    distributions = packages_distributions()
    first_party = {path.name for path in (REPO_ROOT / "src").iterdir() if path.is_dir()}
    third_party = {distributions[name][0].lower() for name in imported - first_party if name in distributions}
    declared = set(_requirements(REPO_ROOT / "packaging" / "streamstats" / "pyproject.toml"))
    assert third_party <= declared, f"imported but not declared: {sorted(third_party - declared)}"


def test_wheel_holds_streamstats_only_and_is_reproducible(tmp_path):
    def build(out):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                str(out),
                str(REPO_ROOT / "packaging" / "streamstats"),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},
        )
        return next(out.glob("streamstats-*.whl"))

    try:
        first, second = build(tmp_path / "a"), build(tmp_path / "b")
    finally:
        clean_build_debris()
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert "streamstats/data/cdn.stats.yml" in names
    assert any(name.startswith("streamstats/_tsv.") and name.endswith(".so") for name in names)
    assert {name.split("/")[0] for name in names} == {"streamstats", "streamstats-0.1.0.dist-info"}
