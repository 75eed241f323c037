"""Files per minute of ``python -m fer_core.batch`` at 1 and 2 local workers (and on Ray).

    python benchmarks/batch_throughput.py [--files 8] [--seconds 30] [--workers 1 2] [--ray]

Generates ``--files`` videos of ``--seconds`` seconds each (480x360, 10 fps, one real face
that comes and goes; tests/media.py), then times a full batch run (worker start-up, decoding,
detection, recognition at 2 analysed frames per second of video, CSV and HTML report) into a
fresh folder for each worker count. On Ray the local cluster is started before the clock
starts; its worker processes (and their model loads) are inside the timing, as in a run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core import batch  # noqa: E402
from tests.media import encode_video, face_on_background  # noqa: E402


def make_videos(folder: Path, n: int, seconds: float, fps: int = 10) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        frames = [face_on_background(480, 360, face=(k // (2 * fps)) % 3 != 2, x=40 + (i * 11) % 80)
                  for k in range(int(seconds * fps))]
        (folder / f"rec{i:02d}.mp4").write_bytes(encode_video(frames, fps=fps))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each video")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ray", action="store_true", help="also run on a local Ray cluster (needs ray)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        make_videos(videos, args.files, args.seconds)
        print(f"{args.files} videos of {args.seconds:g} s, analysed at 2 frames/s; {os.cpu_count()} CPUs")
        runs = [(f"local, {w} worker{'s' if w > 1 else ''}", w, None) for w in args.workers]
        if args.ray:
            runs += [(f"ray, {w} worker{'s' if w > 1 else ''}", w, "local") for w in args.workers]
        for label, workers, ray in runs:
            if ray:  # start the local cluster outside the timing (a cluster is started once)
                import ray as ray_mod

                ray_mod.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
            t0 = time.perf_counter()
            s = batch.run_batch([videos], Path(tmp) / label.replace(" ", "_").replace(",", ""),
                                workers=workers, ray_address=ray, progress=False)
            dt = time.perf_counter() - t0
            if ray:
                ray_mod.shutdown()
            assert s.done == args.files, s
            print(f"  {label:<20} {s.done / dt * 60:6.1f} files/min  "
                  f"{s.done * args.seconds / dt:6.1f} s of video per s  ({dt:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
