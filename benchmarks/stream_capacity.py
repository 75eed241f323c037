"""Live streams one CPU core can serve: the server's whole per-frame cost of a live stream.

    python benchmarks/stream_capacity.py [--frames 90] [--fps 15] [--size 640x480]

Per frame of a webcam stream with one face (640x480 unless ``--size``; the scene is scaled), the app server (aiortc +
streamlit-webrtc) decodes the browser's VP8, runs the live page's frame callback
(``LiveAnalyzer.callback``: detection, the expression model, tracking, smoothing,
annotation) and encodes the annotated frame back to VP8. This times the three with
aiortc's own codecs, on one thread, and prints how many streams at ``--fps`` frames per
second fit in one core (the WebRTC and Streamlit bookkeeping around them is not counted,
so take it as an upper bound).
"""
from __future__ import annotations

import argparse
import fractions
import os
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core import load_recognizer  # noqa: E402
from fer_core.live import LiveAnalyzer  # noqa: E402
from tests.scenes import one_face_frame  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--fps", type=float, default=15.0, help="the webcam's frame rate")
    ap.add_argument("--size", default="640x480", help="the webcam's frame size, WxH (default 640x480)")
    args = ap.parse_args()
    from aiortc.codecs import get_decoder, get_encoder
    from aiortc.codecs.vpx import vp8_depayload
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    browser_enc, server_dec, server_enc = get_encoder(codec), get_decoder(codec), get_encoder(codec)
    analyzer = LiveAnalyzer(load_recognizer(flip_tta=False))  # the live page's default
    width, height = (int(v) for v in args.size.lower().split("x"))
    base = one_face_frame()
    if base.shape[:2] != (height, width):
        import cv2

        base = cv2.resize(base, (width, height), interpolation=cv2.INTER_AREA)
    faces = []
    times: dict[str, list[float]] = {"VP8 decode": [], "frame callback": [], "VP8 encode": []}
    for i in range(args.frames + 10):
        src = av.VideoFrame.from_ndarray(np.roll(base, int(12 * np.sin(i / 10)), axis=1), format="bgr24")
        src.pts, src.time_base = i * 6000, fractions.Fraction(1, 90000)
        payloads, ts = browser_enc.encode(src)  # the browser's side: not the server's cost
        data = b"".join(vp8_depayload(p) for p in payloads)
        t0 = time.perf_counter()
        decoded = server_dec.decode(JitterFrame(data=data, timestamp=ts))[0]
        t1 = time.perf_counter()
        out = analyzer.callback(decoded)
        faces.append(analyzer.snapshot().stats.faces_now)
        t2 = time.perf_counter()
        out.pts, out.time_base = src.pts, src.time_base
        server_enc.encode(out)
        t3 = time.perf_counter()
        if i >= 10:  # warm-up
            for k, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                times[k].append(dt * 1e3)
    total = [sum(v) for v in zip(*times.values())]
    load = os.getloadavg()[0]
    print(f"{width}x{height}, one face (found in {sum(f > 0 for f in faces[10:])} of {args.frames} frames), "
          f"{args.frames} frames, one thread; load average {load:.2f} on {os.cpu_count()} CPUs")
    for k, v in times.items():
        print(f"  {k:<16} median {statistics.median(v):6.2f} ms")
    med = statistics.median(total)
    print(f"  {'server total':<16} median {med:6.2f} ms per frame -> {1000 / med / args.fps:.1f} streams "
          f"at {args.fps:g} fps per core (upper bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
