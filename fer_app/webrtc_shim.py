"""The one place that touches streamlit-webrtc internals (pinned: streamlit-webrtc==0.79.0).

The problem: ``webrtc_streamer()`` decides that its context is stale ("Context for
key=... was not rendered for 1 script runs; resetting stale state") when the session's
``script_run_count`` has moved on by two or more since the component last rendered,
and then stops the worker, so the stream dies. That counter is incremented on the
server's event-loop thread when the *previous* run's ``script_finished`` message is
sent, which can happen after the next run has already read it. During the burst of
reruns that starting a stream causes, the component then reads a lagging count in one
run and an up-to-date one in the next, sees a "skipped" run that never happened and
drops a perfectly live stream (about one START in four, measured in a real browser).

The fix: the app knows when the component really was unmounted, because the entry
script records every run of another page (``fer_app.support.note_page``). So before
rendering the streamer:

* if no other page ran since it last rendered, the heuristic is switched off for this
  run (``_last_rendered_run_count = None``), so the live stream is never reset;
* if another page did run, the context is reset explicitly, as the library meant to.

Both steps degrade to doing nothing if the internals change.

Also here: the encoder's bounded frame queues (:func:`bound_video_queues`), and the live
page's "A shared screen" source (:func:`use_video_source`), which relies on the player
asking ``navigator.mediaDevices.getUserMedia`` of its own iframe for the camera.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction

import streamlit as st

log = logging.getLogger(__name__)


def guard_stale_reset(key: str, *, navigated_away: bool) -> str:
    """Call right before ``webrtc_streamer(key=key, ...)``. Returns what it did (for tests/logs)."""
    context = st.session_state.get(key)
    if context is None:
        return "new"
    if not hasattr(context, "_last_rendered_run_count"):
        log.warning("streamlit-webrtc internals changed; stale-context guard disabled")
        return "unsupported"
    if navigated_away:
        try:
            from streamlit_webrtc.component import _reset_context
        except ImportError:
            return "unsupported"
        _reset_context(context)
        context._last_rendered_run_count = None
        return "reset"
    context._last_rendered_run_count = None
    return "kept"


class NewestFramesQueue(asyncio.Queue):
    """The queue of one consumer of aiortc's ``MediaRelay`` (a ``RelayStreamTrack`` subscribed
    with ``buffered=True``, streamlit-webrtc's choice), keeping only the newest ``keep``
    frames: an older one is dropped when a new one comes. The end-of-stream marker (None) is
    never dropped. ``on_frames(received, dropped)`` is told of every frame put.

    Why: the annotated video's consumer is the RTP sender, which encodes one frame at a time
    (VP8, in a thread pool). When a server cannot encode as fast as the cameras send, an
    unbounded queue grows without end, and so do every later frame's latency and the
    server's memory (docs/RELIABILITY.md, 8 tabs). Dropping stale frames keeps the video
    current: the viewer sees fewer frames, not older ones.

    With ``skip_repeats`` a frame object that was already put is not queued again:
    streamlit-webrtc's async mode hands the last annotated frame over once more for every
    camera frame that arrives while no newer one is ready. Encoding it again (and decoding
    it in the browser) shows the viewer nothing new; with eight tabs on two cores most of
    the frames sent were such repeats (docs/RELIABILITY.md), and their encoding took CPU
    from the analyses. The video then simply holds its last frame until a new one comes.
    A repeat is reported to ``on_frames`` as a dropped frame: a camera frame for which the
    server had no fresh annotated frame ready, the same sign of not keeping up as a stale
    frame dropped from the queue.
    """

    def __init__(self, keep: int = 1, on_frames: Callable[[int, int], None] | None = None,
                 copy: Callable | None = None, skip_repeats: bool = False,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.keep, self.on_frames, self.copy, self.skip_repeats = keep, on_frames, copy, skip_repeats
        self.clock = clock
        self.repeats = 0  # frames not queued because they were the last one again
        self._last = None
        self._own: set[int] = set()  # ids of queued frames that are this queue's own copies
        self._last_pts = -1
        self._handed: deque = deque(maxlen=4)  # the last frames handed over by put_early, newest last

    def put_nowait(self, item) -> None:
        dropped = 0
        if item is not None:
            if self.skip_repeats:
                if item is self._last:
                    self.repeats += 1
                    if self.on_frames is not None:
                        self.on_frames(1, 1)
                    return
                self._last = item
                if any(item is f for f in self._handed):  # queued the moment it was made
                    if self.on_frames is not None:  # a drop of it, if a newer one replaced it, was counted then
                        self.on_frames(1, 0)
                    return
            item, dropped = self._own_copy(item), self._drop_stale()
            if self.on_frames is not None:
                self.on_frames(1, dropped)
        super().put_nowait(item)

    def put_early(self, frame) -> None:
        """Queue a fresh annotated frame the moment the analysis made it (on the event loop,
        from the worker thread through ``call_soon_threadsafe``: :func:`hand_over_early`).

        streamlit-webrtc's async mode sends a result only when the *next* camera frame
        comes in, so every fresh frame waited up to one camera frame interval (67 ms at 15
        fps; more when a busy tab sends fewer). The same frame object coming through
        :meth:`put_nowait` afterwards counts as that camera frame's result and is not queued
        again, even if a newer result was handed over meanwhile (sent now, it would step the
        video back in time). A result replaced by a newer one before the encoder took it is
        counted as dropped here, once.
        """
        if frame is None or frame is self._last or any(frame is f for f in self._handed):
            return
        self._handed.append(frame)
        frame, dropped = self._own_copy(frame), self._drop_stale()
        if dropped and self.on_frames is not None:
            self.on_frames(0, dropped)
        super().put_nowait(frame)

    def _own_copy(self, item):
        if self.copy is None:
            return item
        copy = self.copy(item)
        if copy is not item:
            self._own.add(id(copy))
        return copy

    def _drop_stale(self) -> int:
        dropped = 0
        while self.qsize() >= self.keep and self._queue and self._queue[0] is not None:
            self._own.discard(id(self._queue.popleft()))  # asyncio.Queue's own deque: the oldest frame
            dropped += 1
        return dropped

    def get_nowait(self):
        """The next frame; with a ``clock``, one of this queue's own copies leaves stamped with
        the time it is taken (the encoder takes it now), not its camera frame's capture time.

        Why: the browser's jitter buffer delays playback by how irregularly frames arrive
        against their timestamps. The camera's timestamps carry every delay before the
        encoder (the tab's own encoding on a busy machine, the upload, the analysis, the
        wait for a fresh result), so on a loaded server they wander by hundreds of
        milliseconds and the browser held every frame back that long (143 ms at the median
        with 8 tabs, docs/RELIABILITY.md). Stamped when they are encoded, frames arrive as
        regularly as they are stamped and are shown when they come. Only the encoder's own
        copies are restamped: streamlit-webrtc may still rewrite the timing of the frame
        object it handed over, and a timestamp going backwards stops the VP8 encoder.
        """
        item = super().get_nowait()  # asyncio.Queue.get() ends here too
        if item is not None and id(item) in self._own:
            self._own.discard(id(item))
            if self.clock is not None:
                self._last_pts = max(int(self.clock() * 90_000), self._last_pts + 1)
                item.pts, item.time_base = self._last_pts, Fraction(1, 90_000)
        return item


def private_frame(frame):
    """The encoder's own copy of a YUV 4:2:0 ``av.VideoFrame`` (its planes and timing), or
    the frame itself in any other format, which aiortc's encoder converts, and so copies.

    streamlit-webrtc sends the last processed frame object again, its pts rewritten, when no
    newer one is ready, while the encoder thread may still be encoding it: libvpx then met
    a timestamp going backwards and the stream's sender died."""
    import av

    if not isinstance(frame, av.VideoFrame) or frame.format.name != "yuv420p":
        return frame
    new = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
    new.pts, new.time_base = frame.pts, frame.time_base
    return new


class _EarlyDeque(deque):
    """A processing track's deque of results that also hands each new result to ``hand``
    (called in the worker thread that extends it)."""

    def __init__(self, items, hand: Callable) -> None:
        super().__init__(items)
        self.hand = hand

    def extend(self, frames) -> None:
        frames = list(frames)
        super().extend(frames)
        if frames:
            self.hand(frames[-1])


def hand_over_early(track, queue: NewestFramesQueue, loop: asyncio.AbstractEventLoop) -> bool:
    """Make streamlit-webrtc's async processing track ``track`` hand each annotated frame to
    the encoder's ``queue`` as soon as its worker thread makes it (``queue.put_early`` on
    ``loop``), instead of when the next camera frame comes in. The track's result deque is
    created when it starts, so its ``_start`` is wrapped. Returns False (and changes
    nothing) if the track is not one this knows, or if ``queue`` has no clock: a result
    handed over early has no timing of its own until the queue stamps it."""
    start = getattr(track, "_start", None)
    if queue.clock is None or not callable(start) or getattr(track, "_thread", False) is not None:
        return False  # not streamlit-webrtc's async track, one already started, or no stamp
    queues = getattr(track, "_fer_early_queues", None)
    if queues is not None:  # a second consumer of the same track
        queues.append(queue)
        return True
    queues = track._fer_early_queues = [queue]

    def hand(frame) -> None:
        for q in queues:
            try:
                loop.call_soon_threadsafe(q.put_early, frame)
            except RuntimeError:  # the loop is closed: the server is shutting down
                return

    def started() -> None:
        fresh = track._thread is None
        start()
        if fresh and isinstance(getattr(track, "_out_deque", None), deque):
            with track._out_lock:
                track._out_deque = _EarlyDeque(track._out_deque, hand)

    track._start = started
    return True


def bound_video_queues(relay=None, keep: int = 1) -> str:
    """Make every consumer of a processed video track (the annotated video going to the
    encoder) on streamlit-webrtc's global ``MediaRelay`` keep only the newest ``keep`` frames
    waiting (:class:`NewestFramesQueue`), and report frames and drops to
    ``fer_core.live.SERVER_LOAD`` (the server-wide overload signal); each queue stamps frames
    when the encoder takes them, and gets each result as soon as the track's worker makes
    it (:func:`hand_over_early`). Call before ``webrtc_streamer()``; idempotent. Returns
    what it did (for tests/logs)."""
    from fer_core.live import SERVER_LOAD

    if relay is None:
        try:
            from streamlit_webrtc.relay import get_global_relay

            relay = get_global_relay()
        except Exception:  # no runtime (AppTest), or the internals changed
            log.debug("no global relay to bound", exc_info=True)
            return "unsupported"
    if getattr(relay, "_fer_bounded", False):
        return "kept"
    original = relay.subscribe

    def subscribe(track, buffered: bool = True):
        proxy = original(track, buffered)
        # Only the annotated video, the encoder's feed. The camera's own track is relayed too,
        # into the frame callback's track, which takes each frame at once: bounding it would
        # only drop the frames that the decoder hands over two at a time.
        camera = type(track).__name__ == "RemoteStreamTrack"
        if buffered and getattr(track, "kind", None) == "video" and not camera:
            if isinstance(getattr(proxy, "_queue", None), asyncio.Queue) and proxy._queue.empty():
                proxy._queue = NewestFramesQueue(keep, SERVER_LOAD.note_frames, copy=private_frame,
                                                 skip_repeats=True, clock=time.monotonic)
                try:
                    hand_over_early(track, proxy._queue, asyncio.get_running_loop())
                except RuntimeError:  # no running loop: results go out with the camera's frames
                    pass
            else:
                log.warning("aiortc's RelayStreamTrack changed; video queues are not bounded")
        return proxy

    relay.subscribe = subscribe
    relay._fer_bounded = True
    return "bounded"


#: The key of a page's ``errors`` (:func:`screen_capture_script`) for a page that the browser gives
#: no camera and no screen at all: one opened over plain http, not at localhost (not a "secure
#: context"). Not a browser error: its words are shown without a name in brackets.
INSECURE = "insecure"

#: The browser side of :func:`screen_capture_script`. It runs in a one-pixel ``st.iframe``
#: (same origin as the app) and reaches the player's iframe through the parent page.
#: streamlit-webrtc's player asks ``navigator.mediaDevices.getUserMedia`` of its own window
#: for the camera when START is pressed; in that window the call is wrapped once, and the
#: wrapper reads the wanted source from the window at each call, so the same player can
#: switch between camera and screen without being created again.
#: Applied as soon as the page changes (a new player's iframe is added) and when a player's
#: iframe has loaded, not only every half second: a START pressed in the half second before
#: the next pass went to the browser unwrapped, and the player showed its raw error (4 of 10
#: presses made the moment START appeared). The interval stays, for anything these miss.
#: A request that fails is turned into an error that says in plain words what happened and
#: what to do (the player shows an error as "name: message"), from the page's ``errors``;
#: the browser's own name stays at the end, in brackets. Not an OverconstrainedError for a
#: camera remembered by its device id: the player then asks again for any camera.
#: A page the browser gives no ``navigator.mediaDevices`` (plain http, not localhost: not a
#: secure context) gets a stand-in whose requests fail with ``errors[INSECURE]``: the player
#: said "Error: navigator.mediaDevices is undefined. It seems the current document is not
#: loaded securely." It has no ``enumerateDevices``, so the player's SELECT DEVICE still shows
#: its "media API not available" text.
#: While a stream runs, the page may change its capture (``display``: the camera's or the
#: screen's constraints, fer_app.support.CaptureFollower): the wrapper keeps the video tracks it
#: opened for the player, and each pass asks every live one for the page's capture now with
#: ``MediaStreamTrack.applyConstraints``, once per change. A refusal (OverconstrainedError, or a
#: browser without it) leaves the track as it was; the page reads the result from the frames.
#: The wrapper and the stand-in are made in the player's own window, by a script element of
#: its document, not in this frame: Streamlit replaces this frame whenever the page's script
#: text changes (the source or its errors switched), while the player stays, and Chrome never
#: runs a promise callback made in a frame that is gone. A screen shared after switching from
#: the camera was then never handed to the player (its getUserMedia never settled: no
#: connection, START stuck on STOP).
_SOURCE_JS = """<script>
(function () {
  const source = %(source)s, display = %(display)s, errors = %(errors)s, insecure = %(insecure)s;
  // Runs in the player's own window, not in this frame (see above): installed by a script
  // element of the player's document, so it uses nothing of this frame but its own text.
  function install(win, insecure) {
    function plain(error, constraints, said) {
      const video = constraints && constraints.video;
      const name = error && error.name;
      if (name === "OverconstrainedError" && video && video.deviceId && video.deviceId.exact) return error;
      const say = (said || {})[name];
      if (!say) return error;
      const out = new Error(say[1] + " (" + name + ")");
      out.name = say[0];
      return out;
    }
    if (!win.navigator.mediaDevices && win.isSecureContext === false) {
      const media = new (win.EventTarget || EventTarget)();  // the player listens for devicechange
      media.getUserMedia = function () {
        const say = (win.__ferErrors || {})[insecure] || ["No camera over http", "Open this page over https."];
        const out = new Error(say[1]);
        out.name = say[0];
        return Promise.reject(out);
      };
      media.__ferWrapped = true;
      Object.defineProperty(win.navigator, "mediaDevices", {value: media, configurable: true});
    }
    const media = win.navigator.mediaDevices;
    if (!media || media.__ferWrapped) return;
    const camera = media.getUserMedia.bind(media);
    const open = function (constraints) {
      if (win.__ferSource === "screen" && constraints && constraints.video) {
        if (typeof media.getDisplayMedia !== "function") {
          return Promise.reject(new DOMException(
            "This browser cannot share a screen with a page", "NotSupportedError"));
        }
        return media.getDisplayMedia({video: win.__ferDisplay, audio: false});
      }
      return camera(constraints);
    };
    // The video tracks opened for the player's stream (not its device list's preview, which asks
    // for a device and nothing else), each with the capture last asked of it.
    const tracks = [];
    const keep = function (stream, constraints) {
      const video = constraints && constraints.video;
      const ours = win.__ferSource === "screen" || (video && typeof video === "object" && "width" in video);
      try {
        if (!ours || !stream || typeof stream.getVideoTracks !== "function") return stream;
        for (const track of stream.getVideoTracks()) {
          track.__ferAsked = JSON.stringify(win.__ferDisplay);
          tracks.push(track);
        }
      } catch (e) {}
      return stream;
    };
    // Asks each live track for the page's capture now (win.__ferDisplay), once per change. A browser
    // that refuses (OverconstrainedError, no applyConstraints) keeps the track as it was; the page
    // reads what it got from the frames, never from here.
    win.__ferFollow = function () {
      const want = win.__ferDisplay, key = JSON.stringify(want);
      for (let i = tracks.length - 1; i >= 0; i--) {
        const track = tracks[i];
        if (track.readyState === "ended") { tracks.splice(i, 1); continue; }
        if (track.__ferAsked === key || !want) continue;
        track.__ferAsked = key;
        try {
          Promise.resolve(track.applyConstraints(want)).then(
            () => { track.__ferApplied = key; },
            e => { track.__ferRefused = (e && e.name) || "Error"; });
        } catch (e) { track.__ferRefused = (e && e.name) || "Error"; }
      }
    };
    media.getUserMedia = function (constraints) {
      return open(constraints).then(stream => keep(stream, constraints),
                                    e => { throw plain(e, constraints, win.__ferErrors); });
    };
    media.__ferWrapped = true;
  }
  function apply() {
    let frames;
    try { frames = window.parent.document.querySelectorAll("iframe"); } catch (e) { return; }
    for (const frame of frames) {
      if (!(frame.src || "").includes("streamlit_webrtc")) continue;
      if (frame.__ferOnLoad !== apply && typeof frame.addEventListener === "function") {
        if (frame.__ferOnLoad) frame.removeEventListener("load", frame.__ferOnLoad);  // an earlier run's
        frame.__ferOnLoad = apply;
        frame.addEventListener("load", apply);
      }
      try {
        const win = frame.contentWindow;
        if (!win) continue;
        win.__ferSource = source;
        win.__ferDisplay = display;
        win.__ferErrors = errors;
        if (typeof win.__ferFollow === "function") win.__ferFollow();
        const media = win.navigator.mediaDevices;
        if (media ? media.__ferWrapped : win.isSecureContext !== false) continue;
        const doc = win.document, script = doc.createElement("script");
        script.textContent = "(" + install + ")(window, " + JSON.stringify(insecure) + ");";
        (doc.head || doc.documentElement).appendChild(script);
      } catch (e) { continue; }
    }
  }
  apply();
  setInterval(apply, 500);
  try {
    const watch = new MutationObserver(apply);
    watch.observe(window.parent.document.body, {childList: true, subtree: true});
    window.addEventListener("pagehide", () => watch.disconnect());  // replaced by the next run's
  } catch (e) {}
})();
</script>"""


def screen_capture_script(source: str, display: dict, errors: dict[str, tuple[str, str]] | None = None) -> str:
    """The script that makes the live player take its video from ``source``: ``"camera"``
    (the browser's camera, streamlit-webrtc's own behaviour) or ``"screen"`` (a screen,
    window or tab the visitor picks, ``getDisplayMedia`` with the video constraints
    ``display``). streamlit-webrtc can only open cameras; this swaps the one call. A running
    stream's video track is asked for ``display`` whenever it changes (the camera's too).

    ``errors``: for a browser error's name (``"NotAllowedError"``), the ``(title, what to do)``
    the player shows instead of the browser's own message when the request fails. The
    player's error is never seen by Python (streamlit-webrtc reports only whether it plays
    and its connection offer), so the player itself has to say it. ``errors[INSECURE]``: the
    same for a page the browser gives no camera at all (opened over plain http)."""
    import json

    if source not in ("camera", "screen"):
        raise ValueError(f"unknown video source {source!r}")
    return _SOURCE_JS % {"source": json.dumps(source), "display": json.dumps(display),
                         "errors": json.dumps(errors or {}), "insecure": json.dumps(INSECURE)}


def use_video_source(source: str, display: dict, errors: dict[str, tuple[str, str]] | None = None,
                     slot=None) -> None:
    """Render :func:`screen_capture_script` (a one-pixel iframe), in ``slot`` (an ``st.empty()``)
    if given; call on every run of the live page, before or after ``webrtc_streamer()``. The
    source takes effect at the next START; ``display`` also at once, on a running stream's video
    track (render it again in the same slot when it changes). Out of the keyboard's way, as
    :func:`fer_app.support.set_unsaved`'s."""
    (slot if slot is not None else st).iframe(screen_capture_script(source, display, errors), height=1,
                                              tab_index=-1, alt="Page script: nothing to see")
