"""Command line: ``python -m fer_core PHOTO... [--json] [--annotate OUT.png [--pixelate]] [--attention] [--everyday]``.

Prints each face's expression and confidence; ``--json`` prints machine-readable
results. Boxes are in the photo's own pixels, upright as it is seen (EXIF orientation applied),
and ``size`` is that photo's (width, height): a photo over 4 megapixels is analysed downscaled,
as on the Photo page, and ``analysed_size`` then says at what size, but its boxes still land on
the faces of the file itself. ``--annotate``
writes the first photo that could be read with boxes and labels drawn (never over one of the
photos; at the analysed size), ``--pixelate`` with the faces pixelated for sharing (as the Photo page's option);
``--attention`` adds head pose, eye openness, gaze and looking-at-camera per face;
``--everyday`` uses the everyday-faces model (the app's sidebar choice).
Unreadable files are reported and skipped; the exit code is 1 if any file failed (or the
output was cut short: ``... | head``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fer_core.imageio import DecodedImage


def _read_image(path: Path) -> DecodedImage:
    """Decode a photo upright (EXIF orientation honoured), with the app's size and corruption checks;
    larger than 4 megapixels, it is analysed downscaled, as on the Photo page."""
    from fer_core.imageio import decode_image

    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a photo")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return decode_image(path.read_bytes())


def _size_note(image: DecodedImage) -> str | None:
    """For a downscaled photo, what size it was analysed at (as the Photo page's notice); else None."""
    if not image.downscaled:
        return None
    return (f"a {image.megapixels:.0f}-megapixel photo, analysed at {image.bgr.shape[1]} x "
            f"{image.bgr.shape[0]} pixels; the boxes are in the photo's own pixels")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fer_core", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", type=Path, help="image files (JPEG, PNG, BMP, WebP, ...)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--annotate", type=Path, metavar="OUT.png",
                   help="write the first photo that can be read, annotated (PNG, JPEG, WebP or BMP)")
    p.add_argument("--pixelate", action="store_true",
                   help="with --annotate: pixelate the faces (and what the detector doubted), for sharing")
    p.add_argument("--model", type=Path, help="an ONNX model (default: the shipped one)")
    p.add_argument("--attention", action="store_true",
                   help="also measure head pose (yaw, pitch, roll in degrees), eye openness (0-1), gaze and "
                        "looking at the camera from a face mesh (docs/ATTENTION.md)")
    p.add_argument("--everyday", action="store_true",
                   help="the everyday-faces model: fewer neutral faces read as sad or angry, for webcams "
                        "and everyday photos (models/MODEL_CARD_everyday.md)")
    args = p.parse_args(argv)
    if args.everyday and args.model:
        p.error("--everyday chooses the model: give either it or --model")
    if args.pixelate and not args.annotate:
        p.error("--pixelate is for the annotated photo: give --annotate OUT.png too")
    if args.annotate:
        problem = _output_problem(args.annotate, args.photos)
        if problem:
            p.error(f"--annotate {args.annotate}: {problem}")
    if args.model is not None and not args.model.is_file():
        p.error(f"--model {args.model}: no such file")
    return args


def _print_faces(path: Path, results: Sequence[Any], note: str | None = None) -> None:
    from fer_core import LABELS

    print(f"{path}: {len(results)} face(s)" if results else f"{path}: no face found")
    if note and results:
        print(f"  ({note})")
    for j, r in enumerate(results, 1):
        top = sorted(zip(r.probabilities, LABELS), reverse=True)[:3]
        alts = ", ".join(f"{lab} {pr:.0%}" for pr, lab in top[1:])
        print(f"  face {j} at {r.box}: {r.label} ({r.confidence:.0%}; then {alts})")
        if r.pose is not None and r.eyes_open is not None:
            yaw, pitch, roll = r.pose
            print(f"    pose yaw {yaw:+.0f}, pitch {pitch:+.0f}, roll {roll:+.0f} deg; eyes open "
                  f"{r.eyes_open[0]:.2f} / {r.eyes_open[1]:.2f}; looking at camera: "
                  f"{'yes' if r.looking_at_camera else 'no'}")
        elif r.attention_hint:
            print(f"    {r.attention_hint}")


def _write_annotated(out: Path, img: np.ndarray, results: Sequence[Any], detector: object, hide: bool) -> bool:
    """Draw the results on ``img`` (pixelated first when ``hide``) and write it; False if that failed."""
    import cv2

    from fer_core.annotate import annotate, boxes_to_pixelate, pixelate

    if hide:
        pixelate(img, boxes_to_pixelate(img, results, detector))
    try:
        return bool(cv2.imwrite(str(out), annotate(img, results)))
    except cv2.error:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    from fer_core import load_recognizer
    from fer_core.memory import tune_allocator
    from fer_core.runtime import disable_ort_telemetry

    disable_ort_telemetry()  # as the app does: nothing written to ~/.cache, nothing sent
    tune_allocator()  # as the app does: big photos' buffers go back to the OS when freed
    from fer_core.detect import still_detector
    from fer_core.imageio import ImageDecodeError
    from fer_core.recognizer import EVERYDAY_MODEL

    try:
        rec = load_recognizer(EVERYDAY_MODEL if args.everyday else args.model, detector=still_detector())
    except Exception as exc:  # onnxruntime's own errors (not an ONNX file, a damaged one) are not OSErrors
        print(f"error: the model {args.model or 'shipped'} cannot be loaded: {str(exc).splitlines()[0][:300]}",
              file=sys.stderr)
        return 1
    report: list[dict[str, Any]] = []
    failed = annotated = False
    for path in args.photos:
        try:
            image = _read_image(path)
            img = image.bgr
            results = rec.analyze(img, attention=True) if args.attention else rec.analyze(img)
        except (OSError, ValueError) as exc:  # ImageDecodeError is a ValueError
            failed = True
            print(f"error: {path}: {exc}" if isinstance(exc, ImageDecodeError) else f"error: {exc}",
                  file=sys.stderr)
            report.append({"file": str(path), "error": str(exc)})
            continue
        # Boxes in the photo's own pixels, as the Photo page's and the batch's files give them (a photo
        # over 4 megapixels is analysed downscaled: its analysed size is said, its boxes scaled back).
        entry: dict[str, Any] = {"file": str(path), "size": list(image.upright_size)}
        if image.downscaled:
            entry["analysed_size"] = [img.shape[1], img.shape[0]]
        report.append({**entry, "faces": [r.as_dict() for r in image.in_original(results)]})
        if args.annotate and not annotated:
            annotated = True
            if not _write_annotated(args.annotate, img, results, rec.detector, args.pixelate):
                failed = True
                print(f"error: {args.annotate}: the annotated photo could not be written", file=sys.stderr)
        if not args.json:
            _print_faces(path, image.in_original(results), _size_note(image))
    if args.json:
        print(json.dumps(report, indent=2))
    if args.annotate and not annotated:
        print(f"error: no photo could be read, so {args.annotate} was not written", file=sys.stderr)
    return 1 if failed else 0


#: What ``--annotate`` can write (OpenCV picks the encoder by the file's extension).
ANNOTATE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _output_problem(out: Path, inputs: Sequence[Path]) -> str | None:
    """Why ``out`` cannot take the annotated photo, or None: checked before any work."""
    from fer_core.cli import output_problem

    if out.suffix.lower() not in ANNOTATE_SUFFIXES:
        return f"give a file name ending in {', '.join(ANNOTATE_SUFFIXES)}"
    return output_problem(out, inputs, "photos")


if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()  # here, so that a closed pipe shows below and not as a message at exit
    except BrokenPipeError:  # the reader went away (``| head``): stop without a traceback
        # Python flushes stdout once more on the way out: point it at nothing so that is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
