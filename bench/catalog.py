"""Loading a province-sized catalogue: `load_catalog` against PyYAML's bare parse.

A province publishes about 1,765 procedures. This generates that many distinct files from the
real ones in `procedures/catalog` (codes, names and agency codes varied, sub-procedure
references following the renamed codes) into a temporary folder, next to a copy of the form
templates, then times `load_catalog` (parse, validate, check, freeze, hash) and PyYAML alone
(`yaml.load` with the C `CSafeLoader`) on the same files; best of several rounds each.

    python bench/catalog.py [--files 1765] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from procedures.loader import DEFAULT_CATALOG, load_catalog

PROVINCE_SIZE = 1765
"""Procedures published by one province (the figure the benchmark is sized on)."""

_CODE = re.compile(r'"([0-9]+)\.([0-9]+)"')
_NAME = re.compile(r'^name: "(.*)"$', re.MULTILINE)
_AGENCY_CODE = re.compile(r'code: "([0-9]{3}\.[0-9]{2}\.[0-9]{2})\.H([0-9]{2})"')


def generate(target: Path, count: int, source: Path = DEFAULT_CATALOG) -> list[Path]:
    """`count` distinct procedure files in `target/catalog`, templates in `target/forms`."""
    originals = [path.read_text("utf-8") for path in sorted(source.glob("*.yaml"))]
    if not originals:
        raise SystemExit(f"no procedure files in {source}")
    shutil.copytree(source.parent / "forms", target / "forms", dirs_exist_ok=True)
    folder = target / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        copy, which = divmod(i, len(originals))
        text = _CODE.sub(f'"\\g<1>{copy:04d}.\\g<2>"', originals[which])
        text = _NAME.sub(f'name: "\\g<1> (bản {copy})"', text, count=1)
        text = _AGENCY_CODE.sub(f'code: "\\g<1>.H{copy % 99:02d}"', text)
        path = folder / f"procedure-{i:05d}.yaml"
        path.write_text(text, "utf-8")
        paths.append(path)
    return paths


def best_of(rounds: int, run: Callable[[], object]) -> float:
    """The shortest wall time of `rounds` runs, in seconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def pyyaml_parse(paths: list[Path]) -> None:
    """What PyYAML alone does: read and parse each file with the C loader."""
    for path in paths:
        yaml.load(path.read_text("utf-8"), Loader=yaml.CSafeLoader)


def main(argv: list[str] | None = None) -> int:
    """Generate the catalogue, time both and print the figures; 1 when targets are missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=PROVINCE_SIZE)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        paths = generate(Path(tmp), args.files)
        size = sum(path.stat().st_size for path in paths)
        catalog = load_catalog(paths[0].parent)
        if len(catalog) != len(paths):
            raise SystemExit(f"loaded {len(catalog)} procedures from {len(paths)} files")
        ours = best_of(args.rounds, lambda: load_catalog(paths[0].parent))
        theirs = best_of(args.rounds, lambda: pyyaml_parse(paths))
        gc.disable()  # load_catalog pauses the cycle collector; PyYAML alike, for fairness
        try:
            theirs_paused = best_of(args.rounds, lambda: pyyaml_parse(paths))
        finally:
            gc.enable()
    ratio = ours / theirs
    print(f"files:                            {len(paths)} ({size / 1e6:.1f} MB)")
    print(f"load_catalog (all checks):        {ours:.3f} s")
    print(f"PyYAML CSafeLoader parse:         {theirs:.3f} s  ratio {ratio:.2f}x")
    print(
        f"  same, cycle collector paused:   {theirs_paused:.3f} s  "
        f"ratio {ours / theirs_paused:.2f}x  (best of {args.rounds} rounds)"
    )
    return 0 if ours < 2.0 and ours / theirs_paused <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
