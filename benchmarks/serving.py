"""Serving the model to many live streams: in-process inference (what the app does) against
one shared recognizer service that batches faces across streams (what a Ray Serve or
ONNX-Runtime-behind-HTTP deployment would do), measured on this machine.

    python benchmarks/serving.py [--streams 1 4 8] [--frames 60] [--wait-ms 2]

For each number of concurrent streams (one thread each, one face per frame, as a webcam):
  in-process  each stream calls ``Recognizer.predict_proba`` on its face crop directly;
  service     each stream sends its 48x48 crop over HTTP/1.1 keep-alive on loopback to one
              service process-wide batcher, which waits up to ``--wait-ms`` to fill a batch of
              up to 32 faces and runs the model once for the batch.
Prints per-frame model latency (median, 95th percentile) and faces per second. Face
detection (BlazeFace) runs before the model and stays in the app's process either way: it
needs the whole frame, which would cost more to ship than to analyse; its time is printed
for scale. The service here is the lower bound of any such service (no framework, no
serialisation beyond raw bytes); Ray Serve adds a proxy hop on top.
"""
from __future__ import annotations

import argparse
import http.client
import queue
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core import load_recognizer  # noqa: E402
from tests.scenes import one_face_frame  # noqa: E402

MAX_BATCH = 32


class Batcher:
    """Collects crops from many requests; one model call per batch."""

    def __init__(self, recognizer, wait_s: float) -> None:
        self.recognizer, self.wait_s = recognizer, wait_s
        self.q: queue.Queue = queue.Queue()
        self.batches: list[int] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def submit(self, crops: np.ndarray) -> np.ndarray:
        done = threading.Event()
        slot: dict = {}
        self.q.put((crops, slot, done))
        done.wait()
        return slot["p"]

    def _loop(self) -> None:
        while True:
            items = [self.q.get()]
            n = len(items[0][0])
            deadline = time.perf_counter() + self.wait_s
            while n < MAX_BATCH:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    item = self.q.get(timeout=left)
                except queue.Empty:
                    break
                items.append(item)
                n += len(item[0])
            p = self.recognizer.predict_proba(np.concatenate([it[0] for it in items]))
            self.batches.append(n)
            i = 0
            for crops, slot, done in items:
                slot["p"] = p[i:i + len(crops)]
                i += len(crops)
                done.set()


def serve(batcher: Batcher) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to each answer.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            n = int(self.headers["X-Faces"])
            body = self.rfile.read(int(self.headers["Content-Length"]))
            crops = np.frombuffer(body, np.uint8).reshape(n, 48, 48)
            out = batcher.submit(crops).astype(np.float32).tobytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_streams(streams: int, frames: int, call) -> tuple[list[float], float]:
    """``streams`` threads each doing ``frames`` calls of ``call(thread_state)``: latencies (ms), faces/s."""
    lat: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(streams + 1)

    def worker() -> None:
        state: dict = {}
        call(state)  # warm-up (and connect)
        barrier.wait()
        mine = []
        for _ in range(frames):
            t = time.perf_counter()
            call(state)
            mine.append((time.perf_counter() - t) * 1e3)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(streams)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return lat, streams * frames / (time.perf_counter() - t0)


def pct(v: list[float], q: float) -> float:
    return float(np.percentile(v, q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--frames", type=int, default=60, help="frames per stream")
    ap.add_argument("--wait-ms", type=float, default=2.0, help="the service's batching window")
    args = ap.parse_args()

    rec = load_recognizer(flip_tta=False)  # the live page's recognizer
    frame = one_face_frame()
    det = [rec.detector.detect(frame) for _ in range(3)]
    t = time.perf_counter()
    for _ in range(20):
        det = rec.detector.detect(frame)
    detect_ms = (time.perf_counter() - t) / 20 * 1e3
    gray = frame.mean(axis=2).astype(np.uint8)
    crop = np.stack(rec.crop_faces(gray, [det[0].box]))  # (1, 48, 48)
    t = time.perf_counter()
    for _ in range(50):
        rec.analyze(frame)
    analyze_ms = (time.perf_counter() - t) / 50 * 1e3

    batcher = Batcher(rec, args.wait_ms / 1e3)
    server = serve(batcher)
    port = server.server_address[1]
    body = crop.tobytes()

    def local(state: dict) -> None:
        rec.predict_proba(crop)

    def remote(state: dict) -> None:
        conn = state.get("c")
        if conn is None:
            conn = state["c"] = http.client.HTTPConnection("127.0.0.1", port)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request("POST", "/predict", body, {"X-Faces": "1", "Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        assert len(r.read()) == 7 * 4

    print(f"one 640x480 frame, one face: detection {detect_ms:.2f} ms, whole analyze() {analyze_ms:.2f} ms "
          f"(in-process)")
    print(f"model part per frame, {args.frames} frames per stream, batching window {args.wait_ms:g} ms:")
    print(f"  {'streams':>7}  {'in-process p50/p95 ms':>22}  {'faces/s':>8}  {'service p50/p95 ms':>19}  "
          f"{'faces/s':>8}  {'mean batch':>10}")
    for s in args.streams:
        lat_l, thr_l = run_streams(s, args.frames, local)
        batcher.batches.clear()
        lat_r, thr_r = run_streams(s, args.frames, remote)
        mean_batch = statistics.mean(batcher.batches) if batcher.batches else 0.0
        print(f"  {s:>7}  {pct(lat_l, 50):>10.2f} / {pct(lat_l, 95):<9.2f}  {thr_l:>8.0f}  "
              f"{pct(lat_r, 50):>8.2f} / {pct(lat_r, 95):<8.2f}  {thr_r:>8.0f}  {mean_batch:>10.1f}")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
