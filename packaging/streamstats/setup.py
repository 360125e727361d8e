"""The C part of streamstats: the native parser of the tab-separated formats (the rest is pyproject.toml).

Warnings are errors; the agent falls back to the polars parser where the module is missing, but a
build that fails says so here instead of shipping a wheel without it.
"""

from pathlib import Path

from setuptools import Extension, setup

SOURCE = Path(__file__).resolve().parents[2] / "src/streamstats/_tsv.c"  # absolute: no ".." in object paths
COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wconversion", "-Wno-sign-conversion"]

setup(
    ext_modules=[
        Extension("streamstats._tsv", [str(SOURCE)], extra_compile_args=COMPILE_ARGS),
    ]
)
