"""Run the exploration notebooks top to bottom (`make notebooks`) and keep the executed copies
in .gra/notebooks/ (the committed notebooks stay without outputs).

    python notebooks/run.py                       # all, on the demo corpus
    GRA_NOTEBOOK_SOURCE=../shared/cv-real-dev python notebooks/run.py 01_explore_source
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gra.exploration import execute_notebook

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=HERE.parent / ".gra" / "notebooks")
    args = parser.parse_args(argv)
    paths = sorted(HERE.glob("*.ipynb"))
    if args.names:
        wanted = {Path(n).stem for n in args.names}
        paths = [p for p in paths if p.stem in wanted]
        if len(paths) != len(wanted):
            known = ", ".join(p.stem for p in sorted(HERE.glob("*.ipynb")))
            print(f"error: unknown notebook in {sorted(wanted)}; there are {known}")
            return 2
    for path in paths:
        started = time.perf_counter()
        execute_notebook(path, out=args.out / path.name)
        seconds = time.perf_counter() - started
        print(f"{path.name}: ran in {seconds:.1f} s -> {args.out / path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
