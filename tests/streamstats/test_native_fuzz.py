"""The native parser built with AddressSanitizer and run over the fuzzer's corpus and seeded mutations,
and a short run of the coverage-guided differential fuzz target (atheris; `make fuzz` runs it long).
Both compare every chunk with the polars parser (tests/streamstats/differential.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.streamstats.test_native import CORPUS

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGING = REPO_ROOT / "packaging" / "streamstats"


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_addresssanitizer_build_on_the_corpus_and_seeded_mutations(tmp_path):
    asan = {"CFLAGS": "-fsanitize=address -fno-omit-frame-pointer -g -O1", "LDFLAGS": "-fsanitize=address"}
    build = subprocess.run(
        [sys.executable, "setup.py", "--quiet", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "tmp")],
        cwd=PACKAGING, env={**os.environ, **asan}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (module,) = (tmp_path / "lib" / "streamstats").glob("_tsv.*.so")
    runtime = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    )
    env = {
        **os.environ,
        "LD_PRELOAD": runtime.stdout.strip(),
        # CPython's own allocations are not ours to chase; every error in the module aborts the run.
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
    }
    args = ["-m", "tests.streamstats.fuzz_native", "--seeded", "300", "--module", str(module), str(CORPUS)]
    run = _run(args, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"which was {module})" in run.stdout


def test_a_short_coverage_guided_run(tmp_path):
    found = tmp_path / "found"  # libFuzzer writes new inputs to its first corpus directory: not the repo's
    found.mkdir()
    run = _run(["-m", "tests.streamstats.fuzz_native", "-runs=300", "-max_len=4096", "-seed=1", str(found),
                str(CORPUS)])  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    assert "Done 300 runs" in run.stderr
