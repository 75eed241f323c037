"""Several photos at once (the Photo page with more than one upload): each photo decoded and
analysed in turn, and what they hold together, per photo and per face.

Photos are analysed one at a time and only their results are kept (boxes, probabilities,
attention), so memory holds one decoded picture whatever the number of photos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.annotate import results_table
from fer_core.imageio import ImageDecodeError, decode_image
from fer_core.labels import LABELS
from fer_core.recognizer import FaceResult, Recognizer


@dataclass(frozen=True)
class PhotoResult:
    """One photo of a set: its faces, or why it could not be read."""

    name: str
    faces: tuple[FaceResult, ...] = ()
    error: str | None = None  # a sentence for a person; None when the photo was analysed
    size: tuple[int, int] | None = None  # (width, height) of the photo upright: the pixels its boxes are in


def analyze_photos(
    recognizer: Recognizer,
    photos: Iterable[tuple[str, bytes]],
    *,
    attention: bool = False,
    progress: Callable[[int, str], None] | None = None,
) -> list[PhotoResult]:
    """Each ``(name, data)`` decoded (EXIF orientation, size and corruption checks as for one
    photo) and analysed, in order; boxes in each photo's own pixels, upright
    (:meth:`~fer_core.imageio.DecodedImage.to_original`). A photo that cannot be read gets its
    message in ``error`` and the others go on. ``progress(done, name)`` after each photo."""
    out = []
    for i, (name, data) in enumerate(photos, 1):
        try:
            image = decode_image(data)
        except ImageDecodeError as e:
            out.append(PhotoResult(name, error=str(e)))
        else:
            # Boxes in the photo's own pixels, not in those of its downscaled copy (over 4 megapixels).
            faces = image.in_original(recognizer.analyze(image.bgr, attention=attention))
            out.append(PhotoResult(name, tuple(faces), size=image.upright_size))
            del image
        if progress is not None:
            progress(i, name)
    return out


def photos_table(results: Iterable[PhotoResult]) -> pd.DataFrame:
    """One row per photo: ``photo``, ``faces``, ``expressions`` (the faces' labels, most
    frequent first, e.g. "Happy x3, Neutral"), ``mean confidence`` and the seven mean
    probabilities over its faces (NaN without a face); ``note`` says why a photo has no row of
    faces (unreadable, or no face found)."""
    rows = []
    for r in results:
        labels = pd.Series([f.label for f in r.faces], dtype=str).value_counts()
        probs = np.array([f.probabilities for f in r.faces], dtype=float).reshape(-1, len(LABELS))
        rows.append(
            {
                "photo": r.name,
                "faces": len(r.faces),
                "expressions": ", ".join(f"{lab} x{n}" if n > 1 else str(lab) for lab, n in labels.items()),
                # Rounded as each face's figures are (fer_core.annotate.results_table), for the CSV.
                "mean confidence": round(float(np.mean([f.confidence for f in r.faces])), 4) if r.faces else np.nan,
                **{lab: round(float(probs[:, k].mean()), 4) if len(probs) else np.nan for k, lab in enumerate(LABELS)},
                "note": r.error or ("" if r.faces else "no face found"),
            }
        )
    return pd.DataFrame(rows, columns=["photo", "faces", "expressions", "mean confidence", *LABELS, "note"])


def faces_table(results: Iterable[PhotoResult]) -> pd.DataFrame:
    """One row per face of every photo: ``photo``, then the one-photo table's columns
    (:func:`fer_core.annotate.results_table`: face number within its photo, label,
    confidence, box, probabilities, attention when measured)."""
    rows = [{"photo": r.name, **row} for r in results for row in results_table(r.faces)]
    # No face anywhere: the same columns, no rows (a CSV with its header, not an empty file).
    return pd.DataFrame(rows, columns=None if rows else ["photo", "face", "label", "confidence", "x", "y", "w",
                                                          "h", *LABELS])
