"""FER2013 loaders: the Kaggle CSV, the train/<class>/ folder layout, and FER+ labels.

Every image passes through :func:`fer_core.preprocess.preprocess_face`, the same
function the live predictor uses.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_core.labels import LABELS, NUM_CLASSES
from fer_core.preprocess import INPUT_SIZE, preprocess_face

log = logging.getLogger(__name__)

SPLITS = ("Training", "PublicTest", "PrivateTest")
#: The format tag of the files ``training.pack`` writes and :func:`load_pack` reads.
PACK_FORMAT = "fer-pack-1"
#: The arrays such a file holds besides its format tag (and, packed with FER+ votes, ``soft``).
PACK_ARRAYS = ("webp", "offsets", "usage", "y", "row")
N_PIXELS = INPUT_SIZE * INPUT_SIZE
#: The image files the folder loaders read (OpenCV decodes them all; .jfif is JPEG).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff"}
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jfif")
#: FER+ vote columns in file order, and where each lands in FER2013's order (None: not an expression of ours).
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                   "contempt", "unknown", "NF")
_FERPLUS_TO_FER = {"neutral": 6, "happiness": 3, "surprise": 5, "sadness": 4, "anger": 0,
                   "disgust": 1, "fear": 2}


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file and row."""


@dataclass
class FaceSet:
    """Faces as (N, 48, 48) uint8 with integer labels; ``soft`` holds optional (N, 7) soft labels.

    ``sides``: for faces loaded from image files, the side in pixels of each source crop
    (its longer side) before it was made 48x48; None when every face was 48x48 already (the
    CSV). Pass it to ``Recognizer.predict_proba(x, source_sides=sides)``, which applies the
    model's input blur only to faces that were not enlarged.
    """

    x: np.ndarray
    y: np.ndarray
    soft: np.ndarray | None = None
    index: np.ndarray = field(default=None)  # row numbers in the source, for joins and leakage checks
    sides: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = np.arange(len(self.y))

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> FaceSet:
        return FaceSet(self.x[mask], self.y[mask], None if self.soft is None else self.soft[mask],
                       self.index[mask], None if self.sides is None else self.sides[mask])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=NUM_CLASSES)


def _open_text(path: Path):
    # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is skipped, not read into the first header.
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _blank(row: list[str]) -> bool:
    """A CSV row with nothing in it (a blank line, e.g. the one an editor leaves at the end)."""
    return not any(field.strip() for field in row)


def load_fer2013_csv(path: str | Path) -> dict[str, FaceSet]:
    """Read the Kaggle ``emotion,pixels,Usage`` CSV (plain or .gz) into one FaceSet per split.

    ``index`` is the row's position among the data rows (0-based), which is how FER+ joins.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected the FER2013 CSV, e.g. fer2013.csv.gz)")
    xs, ys, usages = [], [], []
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:3]] != ["emotion", "pixels", "Usage"]:
                raise DataError(f"{path}: header is {header!r}, expected emotion,pixels,Usage")
            for row in reader:
                line = reader.line_num
                if _blank(row):
                    continue
                if len(row) < 3:
                    raise DataError(f"{path}, line {line}: expected 3 fields, got {len(row)}")
                emotion, pixels, usage = row[0].strip(), row[1], row[2].strip()
                if not emotion.isdigit() or int(emotion) >= NUM_CLASSES:
                    raise DataError(f"{path}, line {line}: emotion {emotion!r} is not 0-{NUM_CLASSES - 1}")
                if usage not in SPLITS:
                    raise DataError(f"{path}, line {line}: Usage {usage!r} is not one of {SPLITS}")
                try:
                    values = np.array(pixels.split(), dtype=np.int32)
                except ValueError:
                    raise DataError(f"{path}, line {line}: pixels contain a non-integer") from None
                except OverflowError:  # a number too large for any pixel
                    raise DataError(f"{path}, line {line}: pixel values outside 0-255") from None
                if values.size != N_PIXELS:
                    raise DataError(f"{path}, line {line}: {values.size} pixels, expected {N_PIXELS}")
                if values.min() < 0 or values.max() > 255:
                    raise DataError(f"{path}, line {line}: pixel values outside 0-255")
                xs.append(values.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE))
                ys.append(int(emotion))
                usages.append(usage)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if not ys:
        raise DataError(f"{path}: no data rows")
    x = np.stack([preprocess_face(img) for img in xs])
    y = np.asarray(ys, np.int64)
    usage = np.asarray(usages)
    rows = np.arange(len(y))
    return {s: FaceSet(x[usage == s], y[usage == s], None, rows[usage == s]) for s in SPLITS}


def load_ferplus(path: str | Path, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Read FER+ votes (``fer2013new.csv``), joined to FER2013 by row position.

    Returns ``(soft, is_face)``: (n_rows, 7) vote distributions over the FER2013 classes
    (contempt/unknown votes dropped) and a boolean mask, False for rows FER+ marks
    as not a face or with no vote on our seven classes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected FER+ fer2013new.csv)")
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in FERPLUS_COLUMNS if c not in header]
            if missing:
                raise DataError(f"{path}: missing columns {missing}")
            cols = {c: header.index(c) for c in FERPLUS_COLUMNS}
            votes = []
            for row in reader:
                if _blank(row):
                    continue
                try:
                    votes.append([float(row[cols[c]]) for c in FERPLUS_COLUMNS])
                except (ValueError, IndexError):
                    raise DataError(f"{path}, line {reader.line_num}: malformed vote counts") from None
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read as FER+ fer2013new.csv ({exc})") from exc
    votes = np.asarray(votes, np.float32).reshape(-1, len(FERPLUS_COLUMNS))
    if not (np.isfinite(votes).all() and (votes >= 0).all()):
        raise DataError(f"{path}: vote counts must be numbers >= 0 (found NaN, infinite or negative ones)")
    if len(votes) != n_rows:
        raise DataError(f"{path}: {len(votes)} rows, but the FER2013 file has {n_rows}")
    soft = np.zeros((n_rows, NUM_CLASSES), np.float32)
    for name, j in _FERPLUS_TO_FER.items():
        soft[:, j] = votes[:, FERPLUS_COLUMNS.index(name)]
    nf = votes[:, FERPLUS_COLUMNS.index("NF")]
    total = soft.sum(axis=1)
    is_face = (total > 0) & (nf < votes.sum(axis=1) / 2)
    soft = np.where(total[:, None] > 0, soft / np.maximum(total[:, None], 1e-9), 0.0).astype(np.float32)
    return soft, is_face


def attach_ferplus(splits: dict[str, FaceSet], path: str | Path, label_mode: str = "soft",
                   drop_non_faces: bool = True) -> dict[str, FaceSet]:
    """Attach FER+ labels to loaded CSV splits.

    ``label_mode``: "soft" keeps FER2013 hard labels in ``y`` and the FER+ vote
    distribution in ``soft``; "majority" replaces ``y`` with the FER+ majority class.
    Rows FER+ marks as not a face are dropped when ``drop_non_faces``.
    """
    n_rows = sum(len(s) for s in splits.values())
    soft, is_face = load_ferplus(path, n_rows)
    out = {}
    for name, fs in splits.items():
        s = soft[fs.index]
        keep = is_face[fs.index] if drop_non_faces else np.ones(len(fs), bool)
        y = s.argmax(axis=1) if label_mode == "majority" else fs.y
        out[name] = FaceSet(fs.x, y, s, fs.index, fs.sides).subset(keep)
    return out


def _class_of_folder(name: str) -> int | None:
    low = name.strip().lower()  # "Fear " (a trailing space is easy to type and hard to see) is Fear
    for i, label in enumerate(LABELS):
        if low == label.lower() or low == str(i):
            return i
    return {"anger": 0, "disgusted": 1, "fearful": 2, "happiness": 3, "sadness": 4,
            "surprised": 5}.get(low)


def read_image(path: Path) -> np.ndarray | None:
    """One image file as OpenCV reads it, or None if it is unreadable.

    JPEG is decoded as BGR so EXIF rotation (phone photos) and CMYK are honoured; other
    formats unchanged so an alpha channel survives (IMREAD_UNCHANGED ignores EXIF)."""
    flags = cv2.IMREAD_COLOR if path.suffix.lower() in JPEG_SUFFIXES else cv2.IMREAD_UNCHANGED
    return cv2.imread(str(path), flags)


def _hidden(name: str) -> bool:
    """Names that are never faces or classes: hidden files and folders (.ipynb_checkpoints,
    .DS_Store, the ._ copies macOS leaves) and the __MACOSX folder of zip archives."""
    return name.startswith(".") or name == "__MACOSX"


def class_folders(root: Path) -> list[Path]:
    """The folders directly in ``root``, hidden ones left out, sorted."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p.name))


def images_under(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(images, other files)`` in ``folder`` and its subfolders (hidden ones left out), sorted;
    images are the files with one of IMAGE_SUFFIXES."""
    images, others = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        for name in filenames:
            if not _hidden(name):
                f = Path(dirpath) / name
                (images if f.suffix.lower() in IMAGE_SUFFIXES else others).append(f)
    return sorted(images), sorted(others)


def _listing(paths: list[Path], shown: int = 5) -> str:
    """The first ``shown`` of ``paths``, and how many more."""
    return ", ".join(map(str, paths[:shown])) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def folder_files(root: str | Path, strict: bool = True) -> list[tuple[Path, int]]:
    """``(image path, class index)`` for every image under ``root/<class>/``, sorted.

    Class folders are named as in LABELS (any case) or 0-6. Every image inside one counts as
    that class, in its subfolders too (``Happy/2024/a.jpg``). Hidden files and folders
    (``.ipynb_checkpoints``, ``.DS_Store``) and ``__MACOSX`` are ignored; files of other types
    (not IMAGE_SUFFIXES, e.g. .gif) and images outside any class folder are skipped with a
    warning that counts them. An unknown class folder raises :class:`DataError` when
    ``strict``, else it is skipped."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected {root}/<class>/*.jpg)")
    files = []
    skipped: dict[Path, int] = {}
    unknown = [sub for sub in class_folders(root) if _class_of_folder(sub.name) is None]
    if unknown and strict:  # all of them at once, not one per run
        raise DataError(f"{_listing(unknown)}: folder name{'s are' if len(unknown) > 1 else ' is'} not one of "
                        f"{', '.join(LABELS)}")
    for sub in class_folders(root):
        cls = _class_of_folder(sub.name)
        if cls is None:
            continue
        images, others = images_under(sub)
        files += [(f, cls) for f in images]
        if others:
            skipped[sub] = len(others)
    if skipped:
        log.warning("skipped %d file(s) of a type not read as images (only %s): %s", sum(skipped.values()),
                    " ".join(sorted(IMAGE_SUFFIXES)), "; ".join(f"{n} in {d}" for d, n in skipped.items()))
    loose = [p for p in root.iterdir() if p.is_file() and not _hidden(p.name) and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        log.warning("skipped %d image(s) directly in %s, outside any <class>/ folder", len(loose), root)
    if not files:
        raise DataError(f"{root}: no images found in <class>/ subfolders")
    return files


def load_folder(root: str | Path, strict: bool = True) -> FaceSet:
    """Load ``root/<class>/*.jpg`` (class names as in LABELS, any case, or 0-6).

    Images of any size or colour are accepted and preprocessed. Unknown class
    folders and unreadable images raise :class:`DataError` when ``strict``, else are skipped.
    ``index`` holds each face's position in :func:`folder_files`.
    """
    xs, ys, sides, index = [], [], [], []
    unreadable = []
    for i, (f, cls) in enumerate(folder_files(root, strict)):
        img = read_image(f)
        if img is None:
            unreadable.append(f)
            continue
        xs.append(preprocess_face(img))
        ys.append(cls)
        sides.append(max(img.shape[:2]))
        index.append(i)
    if unreadable and strict:  # all of them at once, not one per run
        raise DataError(f"{_listing(unreadable)}: not a readable image" if len(unreadable) == 1 else
                        f"{len(unreadable)} files are not readable images (remove or re-save them): "
                        f"{_listing(unreadable)}")
    if not ys:
        raise DataError(f"{root}: no readable images in <class>/ subfolders")
    return FaceSet(np.stack(xs), np.asarray(ys, np.int64), index=np.asarray(index, np.int64),
                   sides=np.asarray(sides, np.int64))


def load_folder_splits(root: str | Path) -> dict[str, FaceSet]:
    """Kaggle's image copy: ``root/train/<class>`` and ``root/test/<class>``.

    ``train`` becomes Training; ``test`` (which is PublicTest+PrivateTest) is split in
    half deterministically into PublicTest and PrivateTest.
    """
    root = Path(root)
    train = load_folder(root / "train")
    test = load_folder(root / "test")
    half = np.arange(len(test)) % 2 == 0
    return {"Training": train, "PublicTest": test.subset(half), "PrivateTest": test.subset(~half)}


def load_pack(path: str | Path) -> dict[str, FaceSet]:
    """Read a file written by ``training.pack.pack``: one FaceSet per split (empty where not packed)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != PACK_FORMAT:
                raise DataError(f"{path}: not a FER pack ({PACK_FORMAT}) written by training.pack")
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot read ({exc})") from exc
    missing = [k for k in PACK_ARRAYS if k not in data]
    if missing:
        raise DataError(f"{path}: an incomplete FER pack (no {', '.join(missing)}); pack it again with training.pack")
    blob, offsets = data["webp"], data["offsets"]
    faces = []
    for i in range(len(offsets) - 1):
        img = cv2.imdecode(blob[offsets[i]:offsets[i + 1]], cv2.IMREAD_GRAYSCALE)
        if img is None or img.shape != (48, 48):
            raise DataError(f"{path}: face {i} does not decode to a 48x48 image")
        faces.append(img)
    x = np.stack(faces) if faces else np.zeros((0, 48, 48), np.uint8)
    y, usage, row = data["y"].astype(np.int64), data["usage"], data["row"].astype(np.int64)
    soft = data.get("soft")
    out = {}
    for code, name in enumerate(SPLITS):
        m = usage == code
        out[name] = FaceSet(x[m], y[m], None if soft is None else soft[m], row[m])
    return out


def load_splits(path: str | Path, ferplus: str | Path | None = None, label_mode: str = "soft"):
    """Load a CSV file, a folder tree or a file packed by ``training.pack`` (.npz), optionally
    with FER+ labels (CSV only; a pack carries them if it was packed with them)."""
    path = Path(path)
    if path.suffix == ".npz":
        if ferplus:
            raise DataError(f"{path}: a packed file carries FER+ votes only if it was packed with "
                            "--ferplus; do not pass --ferplus with it")
        return load_pack(path)
    if path.is_dir():
        if ferplus:
            raise DataError("FER+ labels join by CSV row position; use the CSV, not the folder layout")
        return load_folder_splits(path)
    splits = load_fer2013_csv(path)
    if ferplus:
        splits = attach_ferplus(splits, ferplus, label_mode)
    return splits


def unseen_mask(test: FaceSet, train: FaceSet) -> np.ndarray:
    """True for test faces whose exact pixels appear in no training face (leakage-free subset)."""
    seen = {img.tobytes() for img in train.x}  # per image, not reshape(len, -1), which fails on 0 faces
    return np.array([img.tobytes() not in seen for img in test.x], bool)
