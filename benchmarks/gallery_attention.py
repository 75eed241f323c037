"""Attention on a moving call gallery: measuring its faces in turn against measuring every face.

A shared screen's gallery (1280x720, 9, 25 or 49 tiles) where the students move: two tiles in
three are rendered heads (``tests.posed_faces.render_pose``) that hold a pose for 2-6 s and then
turn to another within 0.4 s (yaw -50..50, pitch -20..20 deg), the third is the astronaut photo
whose eyes close for 1-3 s now and then (``tests.posed_faces.close_eyes``); one tile's camera goes
off at 6 s and back at 9 s. The same frames, at the screen's 5 analysed frames a second (a
simulated clock; ``--noise``: each frame with a webcam's noise), go through three live analysers:

* ``every frame``: every face measured on every analysed frame (the reference);
* ``1 in N``: every face on one analysed frame in N (``--attention-every``), as the Live page
  measured a gallery before;
* ``in turn``: ``fer_core.live.GalleryAttention`` (each face's pose at most 1 s old, its eyes 2 s).

For the last two against the reference, per face and frame: the yaw and pitch difference (mean and
95th percentile, degrees), the gaze difference, how often "eyes closed" and "looking at the camera"
agree, the per-frame count of faces looking at the camera (the page's summary), and the delay
before a face's looking-at-camera change shows; and the CPU ms per analysed frame of each.

    python benchmarks/gallery_attention.py --seconds 12 --sizes 3 5 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FPS = 5.0


def tile_plans(n_tiles: int, seconds: float, seed: int) -> list[dict]:
    """Per tile: its kind and its segments [(start, end, value)] over the clip."""
    import numpy as np

    rng = np.random.default_rng(seed)
    plans = []
    for i in range(n_tiles):
        kind = "photo" if i % 3 == 2 else "render"
        segs, t = [], float(rng.uniform(-2, 0))
        while t < seconds:
            if kind == "render":
                value = (float(rng.choice(np.arange(-50, 51, 5))), float(rng.choice(np.arange(-20, 21, 5))))
                length = float(rng.uniform(2, 6))
            else:
                closed = bool(segs) and not segs[-1][2]
                value, length = closed, float(rng.uniform(1, 3) if closed else rng.uniform(2, 6))
            segs.append((t, t + length, value))
            t += length
        plans.append({"kind": kind, "segs": segs, "flip": bool((i // 5 + i) % 2)})
    return plans


def tile_at(plan: dict, t: float, side: int, cache: dict):
    """The tile's picture at ``t`` (None: camera off)."""
    import cv2
    import numpy as np

    from tests.posed_faces import close_eyes, render_pose
    from tests.scenes import astronaut_bgr

    segs = plan["segs"]
    k = next((j for j, s in enumerate(segs) if s[0] <= t < s[1]), len(segs) - 1)
    if plan["kind"] == "render":
        yaw, pitch = segs[k][2]
        if k > 0 and t - segs[k][0] < 0.4:  # turning from the pose before
            a = (t - segs[k][0]) / 0.4
            yaw = segs[k - 1][2][0] + a * (yaw - segs[k - 1][2][0])
            pitch = segs[k - 1][2][1] + a * (pitch - segs[k - 1][2][1])
        key = ("r", side, round(yaw / 2.5) * 2.5, round(pitch / 2.5) * 2.5)
        if key not in cache:
            cache[key] = render_pose(key[2], key[3], 0.0, size=side, face_px=0.45 * side, head=True)[0]
    else:
        key = ("p", side, segs[k][2])
        if key not in cache:
            photo = close_eyes() if segs[k][2] else astronaut_bgr()
            cache[key] = cv2.resize(photo[20:276, 110:366], (side, side), interpolation=cv2.INTER_AREA)
    img = cache[key]
    return np.ascontiguousarray(img[:, ::-1]) if plan["flip"] else img


def frames(n: int, seconds: float, seed: int, noise: float):
    """The gallery's frames at FPS, and the tile that goes dark from 6 to 9 s."""
    import numpy as np

    th, tw = 720 // n, 1280 // n
    side = min(th, tw)
    plans = tile_plans(n * n, seconds, seed)
    cache: dict = {}
    off = n * n // 2
    rng = np.random.default_rng(seed + 1)
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = np.full((720, 1280, 3), 26, np.uint8)
        for j, plan in enumerate(plans):
            if j == off and 6.0 <= t < 9.0:
                continue
            r, c = divmod(j, n)
            y0, x0 = r * th + (th - side) // 2, c * tw + (tw - side) // 2
            frame[y0 : y0 + side, x0 : x0 + side] = tile_at(plan, t, side, cache)
        if noise > 0:  # a webcam's noise, new on every frame
            frame = np.clip(frame + rng.normal(0.0, noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame


def run(n: int, seconds: float, seed: int, every: int, noise: float) -> None:
    import numpy as np

    from benchmarks.bench_webcam import FrameClock
    from fer_core import load_recognizer
    from fer_core.attention import CLOSED_BELOW
    from fer_core.detect import FAR_DETECTOR, load_detector
    from fer_core.live import LiveAnalyzer

    rec = load_recognizer(threads=1, flip_tta=False, detector=load_detector(FAR_DETECTOR, threads=1))
    names = ("every frame", f"1 in {every}", "in turn")
    analyzers = {
        "every frame": LiveAnalyzer(rec, attention=True, adaptive=False, rolling=True, gallery_faces=10**6,
                                    clock=FrameClock(FPS)),
        f"1 in {every}": LiveAnalyzer(
            rec, attention=True, adaptive=False, rolling=True, gallery_faces=10**6, attention_every=every,
            clock=FrameClock(FPS)
        ),
        "in turn": LiveAnalyzer(rec, attention=True, adaptive=False, rolling=True, clock=FrameClock(FPS)),
    }
    seen: dict[str, list[dict]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for frame in frames(n, seconds, seed, noise):
        for name in names:
            a = analyzers[name]
            a.clock.t += a.clock.step  # type: ignore[attr-defined]
            c = time.thread_time()
            a.process(frame)
            cpu[name].append((time.thread_time() - c) * 1000.0)
            seen[name].append({f.face_id: f for f in a.snapshot().faces})
    ref = seen["every frame"]
    faces = statistics.fmean(len(f) for f in ref)
    print(
        f"{n}x{n} gallery, {seconds:.0f} s at {FPS:.0f} analysed frames a second, noise {noise:g}, "
        f"{faces:.1f} faces a frame; "
        f"cpu ms per analysed frame (mean): " + ", ".join(f"{k} {statistics.fmean(cpu[k][1:]):.1f}" for k in names)
    )
    print(
        f"  {'against every frame':<14} {'yaw mean/p95':>13} {'pitch mean/p95':>15} {'gaze x mean':>11} "
        f"{'eyes closed agree':>17} {'looking agree':>13} {'count |diff| mean/max':>21} {'delay mean/max s':>16}"
    )

    def closed(f) -> bool | None:
        return None if f.eyes_open is None else max(f.eyes_open) < CLOSED_BELOW

    for name in names[1:]:
        dyaw, dpitch, dgaze, eyes_ok, look_ok, counts = [], [], [], [], [], []
        for r, s in zip(ref, seen[name]):
            assert set(r) == set(s)  # the same detections and tracks
            for fid, f in r.items():
                g = s[fid]
                if f.pose is not None and g.pose is not None:
                    dyaw.append(abs(f.pose[0] - g.pose[0]))
                    dpitch.append(abs(f.pose[1] - g.pose[1]))
                if f.gaze is not None and g.gaze is not None:
                    dgaze.append(abs(f.gaze[0] - g.gaze[0]))
                eyes_ok.append(closed(f) == closed(g))
                look_ok.append(f.looking_at_camera == g.looking_at_camera)
            counts.append(
                abs(
                    sum(bool(f.looking_at_camera) for f in r.values())
                    - sum(bool(f.looking_at_camera) for f in s.values())
                )
            )
        # Delays: each change of a face's looking-at-camera in the reference that holds 1 s, until the
        # in-turn one shows it; "missed" when it does not before the reference changes again.
        delays, missed = [], 0
        for i in range(1, len(ref)):
            for fid, f in ref[i].items():
                before = ref[i - 1].get(fid)
                if before is None or before.looking_at_camera == f.looking_at_camera:
                    continue
                end = next(
                    (
                        j
                        for j in range(i, len(ref))
                        if fid not in ref[j] or ref[j][fid].looking_at_camera != f.looking_at_camera
                    ),
                    len(ref),
                )
                if end - i < FPS:
                    continue
                lag = next(
                    (
                        j - i
                        for j in range(i, end)
                        if fid in seen[name][j] and seen[name][j][fid].looking_at_camera == f.looking_at_camera
                    ),
                    None,
                )
                if lag is None:
                    missed += 1
                else:
                    delays.append(lag / FPS)
        p95 = lambda v: float(np.percentile(v, 95)) if v else float("nan")  # noqa: E731
        print(
            f"  {name:<14} {statistics.fmean(dyaw):6.1f}/{p95(dyaw):<6.1f} {statistics.fmean(dpitch):7.1f}/"
            f"{p95(dpitch):<7.1f} {statistics.fmean(dgaze):11.3f} {statistics.fmean(eyes_ok):17.1%} "
            f"{statistics.fmean(look_ok):13.1%} {statistics.fmean(counts):10.2f}/{max(counts):<10d} "
            f"{statistics.fmean(delays) if delays else float('nan'):7.2f}/{max(delays, default=float('nan')):<4.1f}"
            f" ({len(delays)} changes, {missed} missed)"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 7], help="gallery rows = columns")
    parser.add_argument("--attention-every", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--noise", type=float, default=3.0, help="grey levels of noise added to each frame (a webcam's; default 3)"
    )
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    for n in args.sizes:
        run(n, args.seconds, args.seed, args.attention_every, args.noise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
