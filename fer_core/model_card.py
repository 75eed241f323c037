"""Reading the model card (``models/fer_model.json``) defensively, for display.

The card grows as the model is trained and evaluated; every accessor here returns
``None`` or an empty value when a field is missing or malformed, never raises.
Evaluation metrics are looked for under ``card["metrics"]`` (or ``"evaluation"``),
else in ``models/eval/metrics.json`` as written by ``python -m training.evaluate`` (when it was
measured on the card's model).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from fer_core.labels import LABELS

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: Preferred split for "the" accuracy: FER2013's official test split first.
SPLIT_PREFERENCE = ("PrivateTest", "test", "PrivateTest_unseen", "PublicTest", "val", "validation")
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".webp")


def load_card(path: str | Path | None = None) -> dict:
    """The card as a dict; ``{}`` if the file is missing or not valid JSON."""
    path = Path(path) if path else MODELS_DIR / "fer_model.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("model card %s unreadable: %s", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def eval_matches(card: dict, models_dir: str | Path | None = None) -> bool:
    """Whether ``models/eval/`` (``metrics.json`` and its plots) may be shown for ``card``'s model: false
    when both name the model's sha256 and they differ. A fine-tuned model copied over the shipped
    one (its card has no FER2013 metrics) was otherwise shown with the shipped model's figures."""
    fallback = Path(models_dir or MODELS_DIR) / "eval" / "metrics.json"
    measured = load_card(fallback).get("model_sha256") if fallback.is_file() else None
    mine = card.get("sha256")
    return not (isinstance(measured, str) and isinstance(mine, str) and measured != mine)


def metrics(card: dict, models_dir: str | Path | None = None) -> dict:
    """The evaluation results: from the card, else from ``models/eval/metrics.json`` when that was
    measured on this model (:func:`eval_matches`)."""
    for key in ("metrics", "evaluation", "eval"):
        value = card.get(key)
        if isinstance(value, dict) and value:
            return value
    fallback = Path(models_dir or MODELS_DIR) / "eval" / "metrics.json"
    if fallback.is_file() and eval_matches(card, models_dir):
        return load_card(fallback)
    return {}


def splits(m: dict) -> dict[str, dict]:
    """Named evaluation splits, each a dict with e.g. accuracy, per_class, confusion_matrix."""
    if not isinstance(m, dict):
        return {}
    if isinstance(m.get("splits"), dict):
        return {str(k): v for k, v in m["splits"].items() if isinstance(v, dict)}
    if "per_class" in m or "accuracy" in m:
        return {"test": m}
    return {str(k): v for k, v in m.items() if isinstance(v, dict) and ("accuracy" in v or "per_class" in v)}


#: The real-photo set's classes with enough photos to score on their own (their mean recall is
#: the headline figure beside accuracy); its Fear has 21 photos, its Disgust the noisiest labels.
REAL_PHOTO_CLASSES = ("Angry", "Happy", "Sad", "Surprise", "Neutral")
#: Installable peers on the real-photo set (whole stored image to each classifier), from
#: ../shared/data/DATA.md: accuracy and the recall of each of REAL_PHOTO_CLASSES.
REAL_PHOTO_PEERS: dict[str, tuple[float, list[float]]] = {
    "face-api.js 1.7.15 (expression net)": (0.680, [0.544, 0.825, 0.476, 0.401, 0.607]),
    "fer 25.10.3 (tflite)": (0.543, [0.682, 0.801, 0.554, 0.286, 0.354]),
}


def real_photo_rows(card: dict) -> list[tuple[str, float, list[float]]]:
    """``(model, accuracy, recalls of REAL_PHOTO_CLASSES)`` for the card's real-photo figures
    (``beyond_fer2013``, written by ``training.card --real-photos``): this model, then the
    everyday-faces model if measured, then the peers; ``[]`` without figures."""
    rows: list[tuple[str, float, list[float]]] = []
    beyond = card.get("beyond_fer2013")
    entries: list[tuple[str, Any]] = [("this model", beyond)]
    if isinstance(beyond, dict) and isinstance(beyond.get("everyday"), dict):
        file = beyond["everyday"].get("model")
        entries.append(("Everyday faces model" + (f" ({file})" if isinstance(file, str) else ""), beyond["everyday"]))
    for name, entry in entries:
        try:
            m = entry["metrics"]
            recalls = [float(m["per_class"][c]["recall"]) for c in REAL_PHOTO_CLASSES]
            rows.append((name, float(m["accuracy"]), recalls))
        except (KeyError, TypeError, ValueError):
            if name == "this model":
                return []
    rows += [(name, acc, list(recalls)) for name, (acc, recalls) in REAL_PHOTO_PEERS.items()]
    return rows


def real_photo_table(card: dict) -> pd.DataFrame | None:
    """:func:`real_photo_rows` as a table: accuracy, mean recall and per-class recall, as fractions."""
    rows = real_photo_rows(card)
    if not rows:
        return None
    return pd.DataFrame([{"model": name, "accuracy": acc, "mean recall": sum(r) / len(r),
                          **dict(zip(REAL_PHOTO_CLASSES, r))} for name, acc, r in rows])


def primary_split(named: dict[str, dict]) -> tuple[str, dict] | None:
    for name in SPLIT_PREFERENCE:
        if name in named:
            return name, named[name]
    return next(iter(named.items()), None)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN -> None


def scalar(split: dict, key: str) -> float | None:
    return _num(split.get(key)) if isinstance(split, dict) else None


def per_class_table(split: dict) -> pd.DataFrame | None:
    """Rows = the 7 expressions, columns = precision / recall / f1 / support (whatever exists)."""
    pc = split.get("per_class") if isinstance(split, dict) else None
    if not isinstance(pc, dict):
        return None
    rows = {}
    for lab in LABELS:
        v = pc.get(lab, pc.get(lab.lower()))
        if isinstance(v, dict):
            rows[lab] = {k: _num(x) for k, x in v.items() if _num(x) is not None}
        elif _num(v) is not None:
            rows[lab] = {"recall": _num(v)}
    if not rows:
        return None
    table = pd.DataFrame.from_dict(rows, orient="index")
    if "support" in table:
        table["support"] = table["support"].fillna(0).astype(int)
    return table


def weakest_class(split: dict) -> tuple[str, float] | None:
    """The expression with the lowest recall on ``split`` and that recall; None without recalls."""
    table = per_class_table(split)
    if table is None or "recall" not in table or table["recall"].isna().all():
        return None
    label = str(table["recall"].idxmin())
    return label, float(table.loc[label, "recall"])


def confusion_matrix(split: dict) -> list[list[float]] | None:
    cm = split.get("confusion_matrix") if isinstance(split, dict) else None
    if cm is None:
        return None
    try:
        rows = [[float(v) for v in row] for row in cm]
    except (TypeError, ValueError):
        return None
    n = len(LABELS)
    return rows if len(rows) == n and all(len(r) == n for r in rows) else None


def figures(models_dir: str | Path | None = None) -> list[Path]:
    """Image files under ``models/`` (evaluation plots), the detector's folder excluded."""
    root = Path(models_dir or MODELS_DIR)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in FIGURE_SUFFIXES
                  and p.is_file() and "detector" not in p.relative_to(root).parts)


def text_field(card: dict, *keys: str) -> Any:
    """The first present of ``keys`` (for free-form fields such as limitations)."""
    for k in keys:
        if card.get(k) not in (None, "", [], {}):
            return card[k]
    return None


# What the pages show, in words a teacher reads; the card's keys and the CSV/JSON columns stay as
# they are, and the precise terms go in each column's or metric's help (see app_pages/model_card.py).

#: Each evaluation split (the card's key) in plain words.
SPLIT_WORDS = {
    "PrivateTest": "FER2013's test faces",
    "test": "the test faces",
    "PrivateTest_unseen": "the test faces unlike any training face",
    "PrivateTest_FERplus_majority": "the test faces, labelled again by a crowd (FER+)",
    "PublicTest": "the faces that tuned the model",
    "held_out": "faces of your folder kept apart from fine-tuning",  # training.finetune's card
    "realphoto": "13,672 real photos (the whole photo to the model)",
    "realphoto_pipeline": "13,672 real photos, as the app reads them (face found and cut out)",
}

#: The per-class table's columns as shown, in reading order: (plain header, the precise term and
#: what it means). ``support`` is the count of faces, which the table header once left unexplained.
PER_CLASS_COLUMNS = {
    "recall": ("found", "Recall: of the faces showing this expression, the share the model names correctly."),
    "precision": ("right when named", "Precision: of the faces the model names with this expression, the share "
                                      "that show it."),
    "f1": ("both together", "F1: one score (0 to 1) from the two before it; high only when both are."),
    "support": ("faces in the test set", "Support: how many of the test faces show this expression."),
}

#: The real-photo table's figure columns as shown (the expressions keep their names).
REAL_PHOTO_COLUMNS = {
    "accuracy": ("photos right", "Accuracy: share of the photos whose expression the model names as the "
                                 "people who labelled them did."),
    "mean recall": ("found, on average", "Mean recall over Angry, Happy, Sad, Surprise and Neutral: each "
                                         "expression's share of its photos named correctly, averaged, so "
                                         "the common ones do not hide the rare."),
}


def split_words(name: str) -> str:
    """``name`` (a split of the card) in plain words; an unknown one as it is."""
    return SPLIT_WORDS.get(name, name)


def per_class_reading(table: pd.DataFrame | None) -> str | None:
    """One sentence that reads a row of :func:`per_class_table` aloud, on the expression with the
    most faces: "Of the 879 Happy faces, the model named 89% Happy; of the faces it named Happy,
    90% were." None without recall, precision and support."""
    if table is None or not {"recall", "precision", "support"} <= set(table.columns) or table.empty:
        return None
    label = str(table["support"].idxmax())
    row = table.loc[label]
    if any(_num(row[c]) is None for c in ("recall", "precision")):
        return None
    return (f"How to read a row: of the {int(row['support']):,} {label} faces, the model named "
            f"{row['recall']:.0%} {label}; of the faces it named {label}, {row['precision']:.0%} were.")


def figure_caption(path: str | Path) -> str:
    """An evaluation plot's caption in words, from its file name (``confusion_PrivateTest.png``:
    "Which expression is taken for which, on FER2013's test faces"); another file, its name."""
    kind, _, split = Path(path).stem.partition("_")
    what = {"confusion": "Which expression is taken for which",
            "reliability": "Confidence shown against how often it is right"}.get(kind)
    if what is None or not split:
        return Path(path).stem.replace("_", " ")
    return f"{what}, on {split_words(split)}"
