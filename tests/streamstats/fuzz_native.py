"""The differential fuzz target of the native parser: log chunks, random and mutated, to the native
and the polars parser, which must give the same columns, reject reasons and samples; the native one
also numbers every string field, into dictionaries kept for the whole run and into small ones that
fill up, and its codes must spell the polars parser's values.

    python -m tests.streamstats.fuzz_native [libFuzzer options] CORPUS...   (atheris; `make fuzz`)
    python -m tests.streamstats.fuzz_native --seeded RUNS [--module SO] CORPUS

The first runs atheris (libFuzzer's engine; its mutations half the time, the field-aware ones of
differential.py the other half) and adds what it finds to the first corpus directory. The second needs
no atheris: every corpus file, then RUNS seeded mutations; `--module` loads another build of
streamstats._tsv first (the AddressSanitizer one of test_native_asan.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from pathlib import Path

BOUNDS = (946_684_800, 4_102_444_800)


def _parser():  # type: ignore[no-untyped-def]
    from streamstats.formats import builtin_formats
    from streamstats.native import NativeChunkParser

    return NativeChunkParser(builtin_formats()["cdn"], BOUNDS)


def _whole_lines(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def _seed_lines(corpus: list[Path]) -> list[bytes]:
    lines = [line for path in corpus for line in _whole_lines(path.read_bytes()).splitlines(keepends=True)]
    return lines or [b"\n"]


def _corpus_files(dirs: list[str]) -> list[Path]:
    return sorted(p for d in dirs for p in Path(d).iterdir() if p.is_file())


def seeded(runs: int, corpus: list[str]) -> None:
    from tests.streamstats.differential import check, dictionaries, mutate

    parser = _parser()
    shared = dictionaries(parser)
    files = _corpus_files(corpus)
    for path in files:
        check(parser, _whole_lines(path.read_bytes()), shared)
    rng = random.Random(runs)
    lines = _seed_lines(files)
    for _ in range(runs):
        check(parser, mutate(rng, lines), shared)
    module = sys.modules["streamstats._tsv"].__file__
    print(f"fuzz_native: {len(files)} corpus files and {runs} mutations equal ({parser.declined} chunks")
    print(f"declined by the native parser, which was {module})")


def atheris_main(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["streamstats", "tests"]):
        from tests.streamstats.differential import check, dictionaries, mutate

    parser = _parser()
    shared = dictionaries(parser)

    def test_one_input(data: bytes) -> None:
        check(parser, _whole_lines(data), shared)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        if seed % 2:
            return atheris.Mutate(data, max_size)
        rng = random.Random(seed)
        return mutate(rng, _whole_lines(data).splitlines(keepends=True))[:max_size]

    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--seeded":
        args = argparse.ArgumentParser()
        args.add_argument("--seeded", type=int, required=True)
        args.add_argument("--module", help="a build of streamstats._tsv to load instead of the installed one")
        args.add_argument("corpus", nargs="+")
        opts = args.parse_args()
        if opts.module:
            spec = importlib.util.spec_from_file_location("streamstats._tsv", opts.module)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules["streamstats._tsv"] = module
        seeded(opts.seeded, opts.corpus)
    else:
        atheris_main(sys.argv)


if __name__ == "__main__":
    main()
