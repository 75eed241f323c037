"""Head-pose accuracy on faces with known angles, and the speed of mesh + iris per face.

Two test sets, both from a real face (scikit-image's astronaut):

* ``rendered``: the frontal face template turned to every yaw and pitch of a grid (and a
  few rolls), textured with the photo (tests/posed_faces.py). The true angles are exact.
* ``in-plane roll``: the photo itself rotated in the image plane; the true roll change is
  the rotation (measured against the unrotated photo's estimate).

Prints the mean absolute error per axis (goal: <= 8 deg yaw and pitch within +-45,
<= 5 deg roll), the mirror-symmetry error of yaw, and the ms per face of the mesh, the
iris model and the pose/eyes/gaze arithmetic on one thread.

    python benchmarks/pose_accuracy.py
    python benchmarks/pose_accuracy.py --depth-weights 1 0.5 0   # compare pose fits
    python benchmarks/pose_accuracy.py --head                     # also renders with a head
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

YAWS = (-45, -30, -15, 0, 15, 30, 45)
PITCHES = (-30, -15, 0, 15, 30)
ROLLS = (-30, -15, 15, 30)


def rendered_set(mesh_model, yaws=YAWS, pitches=PITCHES, head: bool = False):
    """[(true yaw, pitch, roll), mesh or None] over the grid plus rolled renders (``head``:
    with a rough head of hair and ears around the face, tests.posed_faces.render_pose)."""
    from tests.posed_faces import render_pose

    cases = [(y, p, 0) for y in yaws for p in pitches] + [(y, 0, r) for y in (-20, 20) for r in ROLLS]
    out = []
    for c in cases:
        image, box = render_pose(*c, head=head)
        out.append((c, mesh_model.landmarks(image, box)))
    return out


def inplane_roll_set(mesh_model, angles=(-40, -30, -20, -10, 10, 20, 30, 40)):
    """[(true roll change, estimated roll change)] on the real photo rotated in the image plane."""
    import cv2

    from fer_core.attention import head_pose
    from fer_core.detect import load_detector
    from tests.scenes import astronaut_bgr

    det = load_detector("blazeface")
    photo = astronaut_bgr()
    base = head_pose(mesh_model.landmarks(photo, det.detect(photo)[0].box).points)[2]
    out = []
    for a in angles:
        # cv2's angle is counter-clockwise; the roll convention is clockwise in the image.
        m = cv2.getRotationMatrix2D((222.0, 125.0), -a, 1.0)
        image = cv2.warpAffine(photo, m, (512, 512), borderMode=cv2.BORDER_REPLICATE)
        dets = det.detect(image)
        mesh = mesh_model.landmarks(image, dets[0].box) if dets else None
        out.append((a, None if mesh is None else head_pose(mesh.points)[2] - base))
    return out


def error_table(results, depth_weight: float) -> tuple[str, np.ndarray]:
    """Markdown rows of the mean abs error per |yaw| band, and all (N, 3) abs errors."""
    from fer_core.attention import head_pose

    rows, errs = [], []
    missing = 0
    for truth, mesh in results:
        if mesh is None:
            missing += 1
            continue
        est = head_pose(mesh.points, depth_weight=depth_weight)
        err = np.abs(np.array(est) - np.array(truth))
        errs.append((abs(truth[0]), abs(truth[1]), truth[2] != 0, *err))
    e = np.array(errs)
    for name, sel in (("|yaw| <= 15", (e[:, 0] <= 15) & (e[:, 2] == 0)),
                      ("|yaw| = 30", (e[:, 0] == 30) & (e[:, 2] == 0)),
                      ("|yaw| = 45", (e[:, 0] == 45) & (e[:, 2] == 0)),
                      ("rolled (yaw +-20, roll +-15/30)", e[:, 2] == 1),
                      ("all", np.ones(len(e), bool))):
        m = e[sel][:, 3:].mean(axis=0)
        rows.append(f"| {name} | {int(sel.sum())} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.1f} |")
    if missing:
        rows.append(f"| no mesh | {missing} | | | |")
    return "\n".join(rows), e[:, 3:]


def mirror_errors(mesh_model, yaws=(-30, -15, 15, 30)) -> list[float]:
    """|yaw(image) + yaw(mirrored image)| on renders and on the real photo."""
    from fer_core.attention import head_pose
    from fer_core.detect import load_detector
    from tests.posed_faces import render_pose
    from tests.scenes import astronaut_bgr

    out = []
    images = [render_pose(y, 0, 0) for y in yaws]
    photo = astronaut_bgr()
    images.append((photo, load_detector("blazeface").detect(photo)[0].box))
    for image, (x, y, w, h) in images:
        flipped = image[:, ::-1].copy()
        a = mesh_model.landmarks(image, (x, y, w, h))
        b = mesh_model.landmarks(flipped, (image.shape[1] - x - w, y, w, h))
        out.append(abs(head_pose(a.points)[0] + head_pose(b.points)[0]))
    return out


def speed(mesh_model, runs: int) -> dict[str, float]:
    """Median (and best) ms per face of the mesh, the iris model and the arithmetic."""
    from fer_core.attention import attention
    from fer_core.detect import load_detector
    from tests.scenes import astronaut_bgr

    photo = astronaut_bgr()
    box = load_detector("blazeface").detect(photo)[0].box
    timings: dict[str, list[float]] = {"mesh only": [], "mesh + iris": [], "pose/eyes/gaze": []}
    for _ in range(runs):
        t = time.perf_counter()
        mesh_model.landmarks(photo, box, iris=False)
        timings["mesh only"].append(time.perf_counter() - t)
        t = time.perf_counter()
        mesh = mesh_model.landmarks(photo, box)
        timings["mesh + iris"].append(time.perf_counter() - t)
        t = time.perf_counter()
        attention(mesh)
        timings["pose/eyes/gaze"].append(time.perf_counter() - t)
    return {k: (1000 * statistics.median(v), 1000 * min(v)) for k, v in timings.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depth-weights", type=float, nargs="+", default=None,
                   help="pose-fit depth weights to compare (default: the shipped DEPTH_WEIGHT)")
    p.add_argument("--runs", type=int, default=50, help="timed runs for the speed figures")
    p.add_argument("--head", action="store_true",
                   help="also the table on renders with a rough head (hair, ears) around the face")
    args = p.parse_args(argv)

    import cv2

    from fer_core.attention import DEPTH_WEIGHT
    from fer_core.landmarks import FaceMesh

    cv2.setNumThreads(1)
    mesh_model = FaceMesh(threads=1)
    results = rendered_set(mesh_model)
    for w in args.depth_weights or [DEPTH_WEIGHT]:
        table, _ = error_table(results, w)
        print(f"\nRendered faces, depth weight {w}: mean abs error (deg)\n")
        print("| set | faces | yaw | pitch | roll |\n|---|---:|---:|---:|---:|")
        print(table)
    if args.head:
        table, _ = error_table(rendered_set(mesh_model, head=True), DEPTH_WEIGHT)
        print(f"\nRendered faces with a head, depth weight {DEPTH_WEIGHT}: mean abs error (deg)\n")
        print("| set | faces | yaw | pitch | roll |\n|---|---:|---:|---:|---:|")
        print(table)
    roll = inplane_roll_set(mesh_model)
    got = [(a, r) for a, r in roll if r is not None]
    print(f"\nIn-plane roll of the real photo ({len(got)}/{len(roll)} with a mesh): mean abs error "
          f"{np.mean([abs(r - a) for a, r in got]):.1f} deg; per angle: "
          + ", ".join(f"{a:+d}->{r:+.1f}" for a, r in got))
    mirror = mirror_errors(mesh_model)
    print(f"Mirror symmetry |yaw + yaw(mirrored)|: max {max(mirror):.2f} deg, mean {np.mean(mirror):.2f}")
    print("\nSpeed per face, one thread (median / best ms):")
    for k, (med, best) in speed(mesh_model, args.runs).items():
        print(f"  {k:15s} {med:6.2f} / {best:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
