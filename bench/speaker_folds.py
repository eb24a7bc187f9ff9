"""Cut a Common Voice release folder into k speaker-disjoint train/test pairs for
bench/real_accuracy.py (metadata only: the clips are linked, never copied).

    python bench/speaker_folds.py ../shared/cv-real-dev /tmp/cv-folds --folds 5

writes /tmp/cv-folds/fold_<i>/{train,test}/<locale>/validated.tsv with <locale>/clips linking
to the source's clips. A speaker (client_id) lands in the test half of exactly one fold, by a
salted hash, so folds are stable from run to run and never share a voice between halves.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path


def fold_of(client_id: str, folds: int, salt: str) -> int:
    return int(hashlib.sha256((salt + client_id).encode()).hexdigest(), 16) % folds


def write_folds(source: Path, out: Path, folds: int, salt: str = "gra-bench") -> dict:
    tables = sorted(source.glob("*/validated.tsv"))
    if not tables:
        sys.exit(f"{source} holds no <locale>/validated.tsv: is it a Common Voice release?")
    counts: dict[str, dict[str, int]] = {}
    for table in tables:
        locale = table.parent.name
        with table.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header, rows = reader.fieldnames or [], list(reader)
        for k in range(folds):
            for half in ("train", "test"):
                keep = [
                    r
                    for r in rows
                    if (fold_of(r["client_id"], folds, salt) == k) == (half == "test")
                ]
                target = out / f"fold_{k}" / half / locale
                target.mkdir(parents=True, exist_ok=True)
                with (target / "validated.tsv").open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.DictWriter(
                        handle, header, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"
                    )
                    writer.writeheader()
                    writer.writerows(keep)
                clips = target / "clips"
                if not clips.exists():
                    clips.symlink_to((table.parent / "clips").resolve(), target_is_directory=True)
                tally = counts.setdefault(f"fold_{k}/{half}", {"clips": 0})
                tally["clips"] += len(keep)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    for name, tally in write_folds(args.source, args.out, args.folds).items():
        print(f"{name}: {tally['clips']} clips")


if __name__ == "__main__":
    main()
