"""The C part of streamstats: the native parser of the tab-separated formats (the rest is pyproject.toml).

Warnings are errors; the agent falls back to the polars parser where the module is missing, but a
build that fails says so here instead of shipping a wheel without it.
"""

from setuptools import Extension, setup

COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wconversion", "-Wno-sign-conversion"]

setup(
    ext_modules=[
        # _tsv.c here is a link to src/streamstats/_tsv.c: setuptools wants sources below setup.py.
        Extension("streamstats._tsv", ["_tsv.c"], extra_compile_args=COMPILE_ARGS),
    ]
)
