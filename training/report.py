"""Data report: class balance per split, sample faces, duplicate images and train/test leakage.

Example::

    python -m training.report --data fer2013.csv.gz --ferplus fer2013new.csv --out reports/data

Writes into ``--out``: ``class_counts.png`` (grouped bars per split, counts and
shares), ``samples.png`` (faces per class from Training, fixed seed) and
``data_report.json`` (every number printed). Works on the FER2013 CSV (plain or
.gz) and on the ``train/<class>/`` + ``test/<class>/`` folder layout (where
PublicTest/PrivateTest are the two halves of ``test``).

Duplicates are pixel-identical faces after the shared preprocessing; "unseen" test
faces are those whose pixels appear in no Training face (``training.data.unseen_mask``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES
from training.cli import folder_problem, range_problem
from training.data import SPLITS, DataError, FaceSet, load_ferplus, load_splits, unseen_mask

log = logging.getLogger("training.report")


def count_table(splits: dict[str, FaceSet]):
    """A pandas DataFrame: one row per split, one column per class, plus ``total``."""
    import pandas as pd

    table = pd.DataFrame({name: fs.class_counts() for name, fs in splits.items()}, index=list(LABELS)).T
    table["total"] = table.sum(axis=1)
    return table


def duplicate_stats(splits: dict[str, FaceSet]) -> dict:
    """Groups of pixel-identical faces over all splits, by the combination of splits they span."""
    names = [n for n in splits if len(splits[n])]
    x = np.concatenate([splits[n].x.reshape(len(splits[n]), -1) for n in names])
    y = np.concatenate([splits[n].y for n in names])
    where = np.concatenate([np.full(len(splits[n]), i) for i, n in enumerate(names)])
    rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.shape[1]))).ravel()
    _, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    dup_groups = np.flatnonzero(counts > 1)
    members = {g: [] for g in dup_groups.tolist()}
    in_dup = counts[inverse] > 1
    for i in np.flatnonzero(in_dup):
        members[int(inverse[i])].append(int(i))
    by_combo: dict[str, int] = {}
    conflicting = 0
    for idx in members.values():
        combo = "+".join(names[k] for k in sorted(set(where[idx].tolist())))
        by_combo[combo] = by_combo.get(combo, 0) + 1
        conflicting += len(set(y[idx].tolist())) > 1
    within = {n: by_combo.get(n, 0) for n in names}
    cross = {k: v for k, v in sorted(by_combo.items()) if "+" in k}
    return {
        "rows": int(len(y)),
        "distinct_images": int(len(counts)),
        "duplicate_groups": int(len(dup_groups)),
        "rows_in_duplicate_groups": int(in_dup.sum()),
        "groups_with_conflicting_labels": int(conflicting),
        "groups_within_one_split": within,
        "groups_across_splits": cross,
        "groups_across_splits_total": int(sum(cross.values())),
    }


def unseen_stats(splits: dict[str, FaceSet]) -> dict:
    """How many faces of each test split have pixels that appear in no Training face."""
    out = {}
    for name in SPLITS[1:]:
        if name in splits and "Training" in splits:
            mask = unseen_mask(splits[name], splits["Training"])
            out[name] = {"rows": int(len(mask)), "unseen_in_training": int(mask.sum()),
                         "seen_in_training": int((~mask).sum())}
    return out


def ferplus_stats(splits: dict[str, FaceSet], ferplus: str | Path) -> dict:
    """Per split: FER+ non-faces, FER+ majority-class counts on faces, agreement with FER2013 labels."""
    n_rows = sum(len(s) for s in splits.values())
    soft, is_face = load_ferplus(ferplus, n_rows)
    out = {}
    for name, fs in splits.items():
        face = is_face[fs.index]
        major = soft[fs.index].argmax(axis=1)
        out[name] = {
            "non_faces": int((~face).sum()),
            "majority_counts": dict(zip(LABELS, np.bincount(major[face], minlength=NUM_CLASSES).tolist())),
            "agreement_with_fer2013": float((major[face] == fs.y[face]).mean()) if face.any() else None,
        }
    return out


def plot_counts(table, path: Path) -> Path:
    """Grouped bar chart: for each class one bar per split; counts left, share of the split right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = table[list(LABELS)]
    shares = counts.div(counts.sum(axis=1).clip(lower=1), axis=0) * 100
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    xs = np.arange(NUM_CLASSES)
    width = 0.8 / max(len(counts), 1)
    for ax, data, ylabel in ((axes[0], counts, "faces"), (axes[1], shares, "% of the split")):
        for k, split in enumerate(data.index):
            bars = ax.bar(xs + (k - (len(data) - 1) / 2) * width, data.loc[split].to_numpy(), width,
                          label=f"{split} ({int(table.loc[split, 'total'])})")
            if ylabel == "faces":
                ax.bar_label(bars, fontsize=6, padding=1)
        ax.set_xticks(xs, LABELS)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("Class counts per split")
    axes[1].set_title("Class shares per split")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_samples(fs: FaceSet, path: Path, per_class: int = 8, seed: int = 0) -> Path:
    """A grid of ``per_class`` random faces (fixed seed) for each class; blank cells where a class has fewer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(NUM_CLASSES, per_class, figsize=(per_class * 1.1, NUM_CLASSES * 1.2),
                             squeeze=False)
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(fs.y == c)
        pick = rng.choice(idx, min(per_class, len(idx)), replace=False) if len(idx) else []
        for j in range(per_class):
            ax = axes[c, j]
            ax.axis("off")
            if j < len(pick):
                ax.imshow(fs.x[pick[j]], cmap="gray", vmin=0, vmax=255)
        axes[c, 0].text(-4, 24, f"{LABELS[c]} ({len(idx)})", ha="right", va="center", fontsize=8)
    fig.suptitle("Training faces per class (random sample)", fontsize=10)
    fig.subplots_adjust(left=0.16, right=0.99, top=0.94, bottom=0.01, wspace=0.05, hspace=0.08)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_report(data: str | Path, out: str | Path, ferplus: str | Path | None = None,
                 per_class: int = 8, seed: int = 0) -> dict:
    """Load the data, write the two PNGs and the JSON into ``out``, and return the report dict."""
    data, out = Path(data), Path(out)
    splits = load_splits(data)  # FER+ is reported on the side; duplicates are counted on every row
    out.mkdir(parents=True, exist_ok=True)
    table = count_table(splits)
    report = {
        "data": str(data),
        "layout": "folder" if data.is_dir() else "csv",
        "labels": list(LABELS),
        "counts": {split: {k: int(v) for k, v in row.items()} for split, row in table.iterrows()},
        "duplicates": duplicate_stats(splits),
        "unseen": unseen_stats(splits),
    }
    if report["layout"] == "folder":
        report["note"] = "folder layout: PublicTest and PrivateTest are the two halves of test/"
    if ferplus:
        report["ferplus"] = {"file": str(ferplus), **ferplus_stats(splits, ferplus)}
    files = {"class_counts": plot_counts(table, out / "class_counts.png")}
    if len(splits["Training"]):
        files["samples"] = plot_samples(splits["Training"], out / "samples.png", per_class, seed)
    report["files"] = {k: str(v) for k, v in files.items()}
    report["files"]["json"] = str(out / "data_report.json")
    (out / "data_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_report(report: dict) -> str:
    """The human-readable summary printed by the command."""
    import pandas as pd

    table = pd.DataFrame(report["counts"]).T
    lines = [f"Class counts ({report['data']}):", table.to_string(), ""]
    d = report["duplicates"]
    lines += [
        f"Duplicates: {d['distinct_images']} distinct images in {d['rows']} rows; "
        f"{d['duplicate_groups']} groups of identical faces cover {d['rows_in_duplicate_groups']} rows, "
        f"{d['groups_with_conflicting_labels']} with conflicting labels.",
        "  within one split: " + ", ".join(f"{k} {v}" for k, v in d["groups_within_one_split"].items()),
        f"  across splits: {d['groups_across_splits_total']}"
        + "".join(f"\n    {k}: {v}" for k, v in d["groups_across_splits"].items()),
    ]
    for name, u in report["unseen"].items():
        lines.append(f"{name}: {u['unseen_in_training']} of {u['rows']} faces unseen in Training "
                     f"({u['seen_in_training']} have a pixel-identical Training face)")
    if "ferplus" in report:
        for name in SPLITS:
            f = report["ferplus"].get(name)
            if f and f["agreement_with_fer2013"] is not None:
                lines.append(f"FER+ {name}: {f['non_faces']} non-faces; majority label agrees with "
                             f"FER2013 on {f['agreement_with_fer2013']:.1%} of the faces")
    if "note" in report:
        lines.append(f"Note: {report['note']}")
    lines.append("Wrote " + ", ".join(report["files"].values()))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz) or a folder with train/ and test/")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv (CSV layout only): non-faces and label agreement")
    p.add_argument("--out", required=True, help="folder for class_counts.png, samples.png, data_report.json")
    p.add_argument("--per-class", type=int, default=8, help="sample faces per class in samples.png")
    p.add_argument("--seed", type=int, default=0, help="seed for picking the sample faces")
    args = p.parse_args(argv)
    problem = range_problem("--per-class", args.per_class, 1) or folder_problem(args.out)
    if problem:
        p.error(problem)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.ferplus and Path(args.data).is_dir():
        log.error("FER+ labels join by CSV row position; use the CSV, not the folder layout")
        return 2
    try:
        report = build_report(args.data, args.out, args.ferplus, args.per_class, args.seed)
    except DataError as exc:
        log.error("%s", exc)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
