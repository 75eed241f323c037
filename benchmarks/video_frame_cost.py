"""CPU time per analysed frame of a video, as the Video page and the batch jobs analyse it, with
several detectors compared in one run.

    python benchmarks/video_frame_cost.py [--detectors blazeface-still blazeface-still:min_face=40]

Generates H.264 recordings of ``--seconds`` seconds at 25 frames a second, 1280 x 720 and
1920 x 1080 (a 1920 x 1080 one is decoded and scaled to 1280 x 720, ``fer_core.video.iter_frames``):
one face close to the camera (a lecturer, a student's own recording) and a call's gallery of
5 x 5 webcams (``tests.scenes.webcam_gallery_frame``, faces at 35% of the tile), swaying a
little, with sensor noise. Each is analysed whole (``analyze_video`` at 2 frames a second:
decoding, detection, the expression model, tracking) by a recognizer per detector, the
detectors taking turns, ``--rounds`` times. Prints the median process CPU time per analysed
frame and its ratio to the first detector's: on a shared machine the times move from run to
run, the ratios much less. ``NAME:key=value`` builds a registered detector otherwise
(``benchmarks.gallery_recall.detector_from_spec``).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def recording(kind: str, width: int, height: int, seconds: float, fps: int = 25) -> bytes:
    """``kind`` "one face" or "5 x 5 call", H.264 at ``width`` x ``height``, held in memory."""
    from tests.media import face_on_background, write_swaying_video
    from tests.scenes import webcam_gallery_frame

    if kind == "one face":
        base = face_on_background(width, height, x=width // 3)
    else:
        base, _ = webcam_gallery_frame(5, 5, width, height, face_share=0.35)
    buf = io.BytesIO()
    write_swaying_video(buf, base, seconds, fps)
    return buf.getvalue()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--detectors",
        nargs="+",
        default=["blazeface-still:min_face=40", "blazeface-still"],
        help="registry names, NAME:key=value to build one otherwise",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="length of each recording")
    p.add_argument("--rounds", type=int, default=3, help="times each detector analyses each recording")
    args = p.parse_args(argv)

    import cv2

    from benchmarks.gallery_recall import detector_from_spec
    from fer_core import load_recognizer
    from fer_core.video import analyze_video

    cv2.setNumThreads(1)
    recs = {name: load_recognizer(detector=detector_from_spec(name)) for name in args.detectors}
    videos = {
        (kind, size): recording(kind, *size, args.seconds)
        for size in ((1280, 720), (1920, 1080))
        for kind in ("one face", "5 x 5 call")
    }
    for rec in recs.values():  # models loaded, the face mesh of the face check too
        analyze_video(rec, io.BytesIO(videos["5 x 5 call", (1280, 720)]), max_frames=2)
    ms: dict[tuple, dict[str, list[float]]] = {key: {n: [] for n in recs} for key in videos}
    faces: dict[tuple, dict[str, float]] = {key: {} for key in videos}
    for _ in range(args.rounds):
        for key, data in videos.items():
            for name, rec in recs.items():  # in turn, so that the machine's load falls on all alike
                t = time.process_time()
                result = analyze_video(rec, io.BytesIO(data))
                ms[key][name].append(1000 * (time.process_time() - t) / max(1, result.frames_analysed))
                faces[key][name] = len(result.log.to_frame()) / max(1, result.frames_analysed)
    first = args.detectors[0]
    print(
        f"{args.seconds:g} s recordings, 25 fps, analysed at 2 frames a second, {args.rounds} rounds; "
        f"median CPU ms per analysed frame (faces per frame) / median of the rounds' ratios to {first}\n"
    )
    print("| video | scene | " + " | ".join(recs) + " |")
    print("|---|---|" + "---:|" * len(recs))
    for (kind, (w, h)), per in ms.items():
        cells = [
            f"{statistics.median(v):.0f} ({faces[kind, (w, h)][n]:.0f}) / "
            f"{statistics.median(a / b for a, b in zip(v, per[first])):.2f}x"  # the ratio within each round
            for n, v in per.items()
        ]
        print(f"| {w} x {h} | {kind} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
