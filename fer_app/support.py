"""Helpers shared by the Streamlit pages: the cached recognizer, per-session state, ICE
configuration from the environment and the notices every page repeats.

Compute lives in ``fer_core``; this module only wires it to Streamlit.
"""
from __future__ import annotations

import functools
import io
import ipaddress
import json
import logging
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from fer_app import pools, session_reaper
from fer_core import load_recognizer, model_card, textcut
from fer_core.detect import CAMERA_DETECTOR, FAR_DETECTOR, STILL_DETECTOR, shared_detector
from fer_core.live import SERVER_LOAD, LiveAnalyzer
from fer_core.memory import allocator, tune_allocator
from fer_core.recognizer import EVERYDAY_MODEL
from fer_core.review import moment
from fer_core.runtime import disable_ort_telemetry
from fer_core.session import MARKER_CHARS, SessionLog, format_time, markers_table, parse_time
from fer_core.video import VideoDecodeError

log = logging.getLogger(__name__)

#: A JSON list of RTCIceServer dicts, e.g.
#: ``[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]``.
#: Unset: streamlit-webrtc's own choice (TURN from CLOUDFLARE_TURN_KEY_ID/..._API_TOKEN,
#: TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN or HF_TOKEN when set, else Google's public STUN).
ICE_ENV = "FER_ICE_SERVERS"
LIVE_STREAM_KEY = "fer-live-webcam"
LIVE_PAGE = "live"

PRIVACY_NOTE = ("Faces are processed in memory and never stored: nothing is written to the server's disk, "
                "and to yours only what you download, besides the pictures the pages show, which your browser "
                "may keep in its cache as it does for any page (a private window keeps none).")
RESPONSIBLE_USE = (
    "**Responsible use.** The app estimates how a face *looks* (one of seven FER2013 "
    "expressions), not what a person feels; it makes mistakes, more so for some groups of people, "
    "poses and lighting. Faces are processed in memory and never stored. Use it only with the "
    "consent of everyone on camera. In the EU, inferring the emotions of students or employees "
    "in education institutions and workplaces is **prohibited** by the AI Act, "
    "Article 5(1)(f), except for medical or safety reasons."
)

ATTENTION_NOTE = (
    "**Attention** here means where a head points and whether the eyes are open, measured from the "
    "image. It is not learning, interest or understanding: someone can look at the camera and think "
    "of something else, or look down at notes and follow closely."
)

#: What Streamlit's Markdown acts on anywhere in a line: code, emphasis (``*`` anywhere, ``_`` at the
#: edge of a word: not the one of ``IMG_0001``), links and images (an image is fetched from its server
#: when the page is shown), HTML and autolinks, strikethrough, LaTeX, colour directives, icons
#: (``:material/home:``) and emoji codes (``:smile:``: an escaped first colon is not enough), entities,
#: tables.
_MARKDOWN_ANYWHERE = re.compile(r"[\\`*\[\]<>~$:/&|]|(?<![^\W_])_|_(?![^\W_])")
#: What starts a heading, a quote, a list or a rule at the start of a line: "# ", "> ", "1. ", "2) ",
#: "- ", "+ ", "===".
_MARKDOWN_LINE_START = re.compile(r"^(\s*\d*)([-+=#>.)])", re.MULTILINE)


def md_literal(text: str) -> str:
    """``text`` (a file, session or moment name, anything a user typed) for Streamlit's Markdown
    (``st.caption``, ``st.warning``, labels, ...), shown exactly as written: a file named
    ``$5 and $10.csv``, ``**final**.csv`` or ``![x](https://...).jpg`` is not set as LaTeX, bold
    or an image. Selectbox options are not Markdown: they need none of this."""
    escaped = _MARKDOWN_ANYWHERE.sub(lambda m: "\\" + m.group(), str(text))
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


#: The most faces an annotated picture's alt text names; the table beside it has them all.
ALT_FACES = 10


def annotated_alt(what: str, faces: Sequence, *, pixelated: bool = False) -> str:
    """The alt text of an annotated picture (``st.image(..., alt=...)``), what a screen reader
    says for it: without one it read the image's address. ``what``: "The photo"; ``faces``: what
    was drawn (``FaceResult``, ``TrackedFace``, ``LoggedFace``), named as the picture labels them."""
    if not faces:
        return f"{what}: no face found"
    ids = [getattr(f, "face_id", None) for f in faces[:ALT_FACES]]
    names = [f"Face {i if fid is None else fid} {f.label} {f.confidence:.0%}"
             for i, (f, fid) in enumerate(zip(faces, ids), 1)]
    more = f" and {len(faces) - ALT_FACES} more" if len(faces) > ALT_FACES else ""
    return (f"{what} with each face boxed and labelled{', the faces pixelated' if pixelated else ''}: "
            + ", ".join(names) + more)


#: UTF-8's byte-order mark, first in every CSV the pages hand out. Excel opens a CSV without it in the
#: computer's legacy code page (Windows-1252, Shift-JIS, ...): a moment named "début" read "dÃ©but", a
#: file named "中文.jpg" worse. With it, Excel reads UTF-8; pandas and the app
#: (``SessionLog.from_csv``) skip it; Python's csv module needs ``encoding="utf-8-sig"``. The
#: library, the command-line tools and the batch tool write plain UTF-8.
UTF8_BOM = b"\xef\xbb\xbf"


def csv_download(data: bytes | Callable[[], bytes]) -> bytes | Callable[[], bytes]:
    """A CSV download button's data with :data:`UTF8_BOM` first: ``data`` itself, or a callable
    that makes it (still made only when the button is pressed)."""
    if callable(data):
        return functools.partial(_with_bom, data)
    return UTF8_BOM + data


def _with_bom(make: Callable[[], bytes]) -> bytes:
    return UTF8_BOM + make()


def zip_download(make: Callable[[], bytes], name: str) -> Callable[[], bytes]:
    """A download button's data: the CSV that ``make`` makes, with :data:`UTF8_BOM` first, deflated
    into a zip archive as ``name``; made only when the button is pressed. A log's CSV zips to a
    third of its size (a full log of a million observations: 131 MB, 42 MB zipped, 7 s on one
    core), Windows and macOS open the archive with a double-click, and the dashboard and Compare
    sessions read it back (``fer_core.session.unpack_log``)."""
    return functools.partial(_zipped, make, name)


def _zipped(make: Callable[[], bytes], name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open(name, "w") as member:
        member.write(UTF8_BOM)
        member.write(make())
    return buf.getvalue()


@functools.cache
def process_setup() -> None:
    """Once per server process, from the entry point: glibc allocator settings that let large
    photos' buffers go back to the OS (``fer_core.memory.tune_allocator``: the start scripts'
    environment variables, for servers started without them), and the reaper that shuts down
    the sessions of closed tabs (``fer_app.session_reaper``), and a default executor for the
    event loop whose idle threads end (``fer_app.pools``: aiortc encodes video there); first of
    all, ONNX Runtime's telemetry off (``fer_core.runtime.disable_ort_telemetry``)."""
    disable_ort_telemetry()
    done = tune_allocator()
    log.info("allocator: %s%s", allocator(), "".join(f", {k}={v}" for k, v in done.items()))
    session_reaper.start()
    pools.start()


def drop_upload(upload: object) -> None:
    """Remove ``upload`` (an ``UploadedFile``, or its ``file_id``) from Streamlit's store of this
    session's uploads. A file leaves that store when the visitor removes it from its uploader;
    one whose uploader was emptied by a new key, or left behind on another page, stayed there,
    every byte of it, until the session ended ("Forget the video", "Forget this log"). Does
    nothing without a script run."""
    ctx = get_script_run_ctx()
    file_id = upload if isinstance(upload, str) else getattr(upload, "file_id", None)
    if ctx is None or file_id is None:
        return
    try:
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, file_id)
    except Exception:  # an internal API: forgetting the video must not fail the page
        log.debug("could not drop the upload", exc_info=True)


def forget_when_emptied(upload_key: str, state_key: str) -> Callable[[], None]:
    """An uploader's ``on_change``: when the visitor empties the uploader ``upload_key``, what was
    read from it (``st.session_state[state_key]``) goes too. A partial of a function of this
    module, not of the page: Streamlit keeps a widget's callback until the session's next run, and
    a function defined in a page keeps every global of that page's run alive with it."""
    return functools.partial(_forget_when_emptied, upload_key, state_key)


def _forget_when_emptied(upload_key: str, state_key: str) -> None:
    if not st.session_state.get(upload_key):
        st.session_state.pop(state_key, None)


def drop_previous_media() -> None:
    """Let Streamlit free what this session's previous run showed (the last photo's image, the
    array behind its download button) now, before a new photo is analysed, rather than when
    this run ends: otherwise both photos are held at the analysis's memory peak.

    The previous run's references were dropped when this run started, so these files are
    orphans; Streamlit collects orphans (of every session) at the end of each run anyway.
    Uses ``Runtime``'s media manager: does nothing without a runtime (AppTest) or if that
    changes.
    """
    from streamlit import runtime

    try:
        if runtime.exists():
            runtime.get_instance().media_file_mgr.remove_orphaned_files()
    except Exception:  # an internal API: the memory saving is not worth a failed page
        log.debug("could not drop the previous run's media", exc_info=True)


#: The expression models a user can pick (sidebar, every page): the default, measured on FER2013,
#: and the one for everyday faces (fer_core.recognizer.EVERYDAY_MODEL).
MODEL_CHOICES = ("Standard", "Everyday faces")
MODEL_CHOICE_KEY = "fer_model_choice"
#: A line under each choice, in plain words: which to pick (the help has the figures). Without them
#: the sidebar offered two names and a newcomer had to open the help to tell them apart.
MODEL_CAPTIONS = ("As tested on a research set of web faces", "Best for webcams, classes and everyday photos")


@functools.cache
def model_choice_help() -> str:
    """The sidebar's help, with each model's figures read from its card (FER2013 PrivateTest and
    the real photos)."""
    def figures(card: dict) -> tuple[str, str]:
        split = model_card.splits(model_card.metrics(card)).get("PrivateTest", {})
        fer, real = model_card.scalar(split, "accuracy"), model_card.real_photo_rows(card)
        return (f"{fer:.1%}" if fer is not None else "n/a", f"{real[0][1]:.1%}" if real else "n/a")

    (std_fer, std_real), (day_fer, day_real) = (
        figures(model_card.load_card()), figures(model_card.load_card(EVERYDAY_MODEL.with_suffix(".json"))))
    return (f"**Standard** is the model as measured on FER2013, a research set of small web faces ({std_fer} of "
            "its test faces right). **Everyday faces** is a version trained further on the FER+ annotators' votes "
            "(ten people's labels for each of FER2013's faces), for webcams, "
            "classes and everyday photos, where most faces are neutral: it reads fewer neutral faces as sad "
            f"or angry. On 13,672 real photos of people it gets {day_real} right instead of {std_real}; on "
            f"FER2013's test faces {day_fer} instead of {std_fer}. Same speed. Applies to new analyses on "
            "every page.")


def model_choice_control() -> None:
    """The model choice, in the sidebar of every page (called by the entry script)."""
    st.sidebar.radio("Expression model", MODEL_CHOICES, key=MODEL_CHOICE_KEY, captions=MODEL_CAPTIONS,
                     help=model_choice_help())


def model_choice() -> str:
    """This session's choice: one of MODEL_CHOICES."""
    choice = st.session_state.get(MODEL_CHOICE_KEY, MODEL_CHOICES[0])
    return choice if choice in MODEL_CHOICES else MODEL_CHOICES[0]


def everyday() -> bool:
    """True when this session chose the everyday-faces model."""
    return model_choice() == MODEL_CHOICES[1]


def model_card_path() -> Path | None:
    """The card of the chosen model (None: the default model's, ``fer_core.model_card.load_card``)."""
    return EVERYDAY_MODEL.with_suffix(".json") if everyday() else None


def per_class_columns(table: pd.DataFrame) -> dict:
    """``st.dataframe`` arguments that show a per-class table (``model_card.per_class_table``) in plain
    headers, found first and the count of faces last, as percentages, each header's help giving the
    precise term ("Recall: ...", "Support: ..."). The data keeps its columns."""
    shown = [c for c in model_card.PER_CLASS_COLUMNS if c in table.columns]
    config: dict = {c: st.column_config.NumberColumn(label, help=about, format="percent" if c != "support" else "%d")
                    for c, (label, about) in model_card.PER_CLASS_COLUMNS.items() if c in shown}
    config["_index"] = st.column_config.TextColumn("expression")
    return {"column_order": shown + [c for c in table.columns if c not in shown], "column_config": config}


@st.cache_resource(show_spinner="Loading the expression model...")
def _recognizer(flip_tta: bool, everyday: bool, detector: str | None = None):
    return load_recognizer(EVERYDAY_MODEL if everyday else None, flip_tta=flip_tta,
                           detector=shared_detector(detector) if detector else None)


def get_recognizer():
    """The recognizer of this session's model choice for photos and video files, one per choice
    for every session (``Recognizer`` is thread-safe). Its detector is the still-image one
    (``fer_core.detect.still_detector``: extra passes for faces of a quarter to a tenth of the
    picture, as in a collage of portraits or a recorded call's gallery)."""
    return _recognizer(True, everyday(), STILL_DETECTOR)


def get_live_recognizer(mirror: bool = False, far_faces: bool = False):
    """The same model for live video: with the camera detector (``fer_core.detect.camera_detector``:
    an HD camera's frame is detected at 640 px; the middle pass runs on a smaller frame only when
    the whole-frame pass found no face) unless ``far_faces``
    (``fer_core.detect.far_detector``: its middle pass on every frame costs ~5 ms, so it is the
    user's choice here, or comes with a shared screen) and, unless
    ``mirror``, without flip test-time augmentation: half the model time per face, and the
    per-face smoothing over frames already averages the noise."""
    return _recognizer(mirror, everyday(), FAR_DETECTOR if far_faces else CAMERA_DETECTOR)


def ice_configuration(env: Mapping[str, str] = os.environ) -> dict | None:
    """The RTC configuration for ``webrtc_streamer(rtc_configuration=...)``.

    ``$FER_ICE_SERVERS`` (a JSON list, or ``{"iceServers": [...]}``) when set and valid;
    otherwise None, which lets streamlit-webrtc pick TURN servers from the credential
    variables it knows, falling back to public STUN.
    """
    raw = env.get(ICE_ENV, "").strip()
    if not raw:
        return None
    try:
        servers = json.loads(raw)
    except ValueError:
        log.warning("%s is not valid JSON; using the default ICE servers", ICE_ENV)
        return None
    if isinstance(servers, dict):
        servers = servers.get("iceServers")
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        log.warning("%s must be a JSON list of {\"urls\": ...} objects; using the default ICE servers",
                    ICE_ENV)
        return None
    return {"iceServers": servers}


#: What the browser is asked to capture. Every frame is decoded, converted, annotated and
#: encoded again on the server, so its cost follows the pixels and the frame rate; the face
#: detector's input is 128 x 128 and the model's 48 x 48 (docs/RELIABILITY.md).
CAMERA = {"width": {"ideal": 480}, "height": {"ideal": 360}, "frameRate": {"ideal": 15}}
#: The camera asked of a visitor who starts while the server is busy: 320 x 240 and 10 frames
#: a second at most (the browser scales and thins any camera down to it). A face at a laptop's
#: distance (60 cm, a 70-degree webcam) is then about 60 px wide, more than the model's 48 x 48
#: input, and a busy server analyses about 8 frames a second per stream anyway.
LIGHT_CAMERA = {"width": {"ideal": 320, "max": 320}, "height": {"ideal": 240, "max": 240},
                "frameRate": {"ideal": 10, "max": 10}}
#: From this many other running live streams on, a stream gets the light camera (measured on two
#: cores: 8 streams at 480 x 360 missed the 500 ms latency target; with the later ones at
#: 320 x 240 and 10 frames a second they met it in 4 runs of 4, docs/RELIABILITY.md). A larger
#: server may raise it with ``$FER_LIGHT_CAMERA_FROM`` (docs/DEPLOY.md).
LIGHT_CAMERA_FROM_ENV = "FER_LIGHT_CAMERA_FROM"


def light_camera_from(env: Mapping[str, str] = os.environ) -> int:
    """``$FER_LIGHT_CAMERA_FROM`` when it is a whole number of 1 or more, else 3."""
    raw = env.get(LIGHT_CAMERA_FROM_ENV, "").strip()
    if raw:
        try:
            if int(raw) >= 1:
                return int(raw)
        except ValueError:
            pass
        log.warning("%s must be a whole number of 1 or more; using 3", LIGHT_CAMERA_FROM_ENV)
    return 3


LIGHT_CAMERA_FROM = light_camera_from()


def _busy(streams: int, rationed: bool) -> str:
    """Why a stream about to start gets the light capture ("" when it does not)."""
    if streams >= LIGHT_CAMERA_FROM:
        return (f"{streams} other live streams are running on this server" if streams > 1 else
                "1 other live stream is running on this server")
    return "The server is busy right now" if rationed else ""


def camera_for(streams: int, rationed: bool) -> tuple[dict, str]:
    """The camera constraints for a stream about to start, given the live streams running on
    this server and whether it rations analyses now (``ServerLoad.streams``), and a line for
    the visitor ("" for the full size)."""
    why = _busy(streams, rationed)
    if why:
        size = (f"{LIGHT_CAMERA['width']['max']} x {LIGHT_CAMERA['height']['max']} at "
                f"{LIGHT_CAMERA['frameRate']['max']} frames a second")
        return LIGHT_CAMERA, (f"{why}: your camera is asked for {size} so that every stream stays smooth. "
                              "Sit within about a metre of the camera.")
    return CAMERA, ""


#: What a shared screen, window or tab is captured at (the live page's "A shared screen"
#: source: an online class's gallery view). The face detector runs a high-resolution pass
#: only on frames 1000 px wide or more, which is what finds the faces of a 4 x 4 or larger
#: gallery: at 1280 x 720 the far-faces detector finds 93-99% of the faces of 2 x 2 to 7 x 7
#: galleries of real photos, at 960 x 540 under half from 4 x 4 on (docs/DESIGN.md).
#: Expressions change slowly, so 5 frames a second are enough; that keeps the pixels the
#: server decodes and encodes (4.6 million a second) within twice a full-size camera's (2.6).
SCREEN = {"width": {"ideal": 1280, "max": 1280}, "height": {"ideal": 720, "max": 720},
          "frameRate": {"ideal": 5, "max": 5}}
#: A shared screen on a busy server: the same size, so that small faces are still found,
#: at 2 frames a second.
LIGHT_SCREEN = {**SCREEN, "frameRate": {"ideal": 2, "max": 2}}


def screen_for(streams: int, rationed: bool) -> tuple[dict, str]:
    """The capture constraints for a shared screen about to start, as :func:`camera_for`."""
    why = _busy(streams, rationed)
    if why:
        return LIGHT_SCREEN, (f"{why}: the shared screen is captured at "
                              f"{LIGHT_SCREEN['frameRate']['max']} frames a second so that every "
                              "stream stays smooth.")
    return SCREEN, ""


#: A stream lowered to the light capture while it runs goes back to the full one once the server
#: has not been busy for this long. The light capture itself relieves the server, which may then
#: stop rationing: going back at once made sizes swap every few seconds. Each time the stream has
#: to be lowered again after going back, the wait doubles, up to ``RESTORE_MAX_S``; lowered again
#: after the full capture held for ``RESTORE_MAX_S``, the wait starts again from ``RESTORE_AFTER_S``
#: (the full capture was not what made the server busy this time).
RESTORE_AFTER_S = 10.0
RESTORE_MAX_S = 120.0
#: How long the browser has to send frames of a new camera size before the page says it did not.
RESIZE_WAIT_S = 5.0


def _size(capture: dict) -> str:
    return f"{capture['width'].get('max', capture['width'].get('ideal'))} x " \
           f"{capture['height'].get('max', capture['height'].get('ideal'))}"


def _rate(capture: dict) -> float:
    return float(capture["frameRate"].get("max", capture["frameRate"].get("ideal")))


class CaptureFollower:
    """The capture that a running stream asks of the browser, following the server's load, and
    the line under the video that says what happened.

    The capture was chosen before START (:func:`camera_for`, :func:`screen_for`) and kept for the
    whole stream: a light camera asked on a busy server stayed 320 x 240 after the server was
    quiet again, and streams started together on a quiet server all kept the full camera, however
    many then ran. Now the page script (``fer_app.webrtc_shim``) applies the capture that
    :meth:`step` returns to the running video track (``MediaStreamTrack.applyConstraints``): the
    light one as soon as the server is busy, the full one once it has been quiet for
    ``restore_after`` seconds. Rationing with no other stream running lowers no running stream
    (its own analyses are shed by its ``LoadShedder``; a lighter camera would lose far faces and
    make room for no other stream). Whether the browser obeyed is read from the frames that
    arrive (a camera's size, a shared screen's rate), never assumed: a browser that refuses
    keeps its stream as it is, and the line says so."""

    def __init__(self, source: str, capture: dict, note: str, now: float) -> None:
        self.source = source
        self.full, self.light = (SCREEN, LIGHT_SCREEN) if source == "screen" else (CAMERA, LIGHT_CAMERA)
        self.asked, self.asked_at, self.note = capture, now, note
        self.changed = False  # asked another capture than the one the stream started with
        self.restored = False  # went back to the full capture at least once
        self.restore_after = RESTORE_AFTER_S
        self._quiet_since: float | None = None
        self._restored_at = now  # when the full capture was last asked back

    def step(self, now: float, streams: int, rationed: bool, frame_size: tuple[int, int] | None,
             fps_in: float) -> tuple[dict, str]:
        """The capture to ask for now and the line to show, given the other live streams and the
        rationing now (``ServerLoad.streams``) and this stream's last frame size and frame rate."""
        why = _busy(streams, rationed)
        if why and not streams and self.asked == self.full:
            # Rationed with no other stream: this stream's own analyses (its LoadShedder sheds
            # them) or the server's other work. A lighter camera would serve no other stream and
            # would lose its far faces: it keeps the capture it has. Its line still follows the frames
            # (asked back to the full camera: whether the browser gave it back, or refused).
            self._quiet_since = None
            self.note = self._say(now, "", streams, rationed, frame_size, fps_in)
            return self.asked, self.note
        if why:
            self._quiet_since = None
            if self.asked != self.light:
                if self.restored:
                    # Lowered again soon after going back: the full capture may be what made the
                    # server busy, so the next wait is longer. After a long while at the full
                    # capture it is not: the wait starts again (once 120 s, it was kept for the rest of
                    # the stream, and a visitor's camera stayed light for 2 minutes after each later
                    # busy moment, however brief and however long after the swaps).
                    held = now - self._restored_at >= RESTORE_MAX_S
                    self.restore_after = RESTORE_AFTER_S if held else min(2 * self.restore_after, RESTORE_MAX_S)
                self._ask(self.light, now)
        else:
            self._quiet_since = now if self._quiet_since is None else self._quiet_since
            if self.asked != self.full and now - self._quiet_since >= self.restore_after:
                self.restored, self._restored_at = True, now
                self._ask(self.full, now)
        self.note = self._say(now, why, streams, rationed, frame_size, fps_in)
        return self.asked, self.note

    def _ask(self, capture: dict, now: float) -> None:
        self.asked, self.asked_at, self.changed = capture, now, True

    def _delivered(self, frame_size: tuple[int, int] | None, fps_in: float) -> bool | None:
        """Whether the frames arriving have the asked capture (None: cannot tell)."""
        light = self.asked == self.light
        if self.source == "screen":  # the same size: the rate tells, and only a lowered one for sure
            slow = 0 < fps_in <= 1.25 * _rate(LIGHT_SCREEN)
            return True if light and slow else (None if light or slow else True)
        if frame_size is None:
            return None
        small = frame_size[0] * frame_size[1] <= LIGHT_CAMERA["width"]["max"] * LIGHT_CAMERA["height"]["max"]
        return small == light

    def _say(self, now: float, why: str, streams: int, rationed: bool, frame_size: tuple[int, int] | None,
             fps_in: float) -> str:
        screen = self.source == "screen"
        got = self._delivered(frame_size, fps_in)
        late = now - self.asked_at >= RESIZE_WAIT_S and got is False
        sent = f"{frame_size[0]} x {frame_size[1]}" if frame_size else ""
        if screen:
            full = f"{_rate(SCREEN):.0f} frames a second"
            light = f"{_rate(LIGHT_SCREEN):.0f} frames a second"
        else:
            full = f"{_size(CAMERA)} at {_rate(CAMERA):.0f} frames a second"
            light = f"{_size(LIGHT_CAMERA)} at {_rate(LIGHT_CAMERA):.0f} frames a second"
        what = "the shared screen" if screen else "your camera"
        if self.asked == self.light:
            if not why:
                return (f"The server is no longer busy: {what} goes back to {full} if it stays so for "
                        f"{self.restore_after:.0f} s. The session log is kept.")
            if not self.changed:  # the capture asked at START: why it was, said with today's reason
                return (screen_for if screen else camera_for)(streams, rationed)[1]
            if got:
                if screen:
                    return f"{why}: the shared screen was lowered to {light} so that every stream stays smooth."
                return (f"{why}: your camera was lowered to {sent} while the server is busy, so that every "
                        "stream stays smooth. Sit within about a metre of the camera.")
            if late:  # the browser refused, or ignored, the light size
                return f"{why}; this browser kept your camera at {sent}."
            return f"{why}: {what} is asked for {light} so that every stream stays smooth."
        if not self.changed:
            return ""
        if got:
            return f"The server is no longer busy: {what} is back to {sent if not screen else full}."
        if late:
            return (f"The server is no longer busy, but your camera still sends {sent}: this browser did not "
                    f"take the full size back. Press STOP, then START, for {full}. The session log is kept.")
        return f"The server is no longer busy: {what} is asked for {full} again."


def busy_note(every: int, streams: int, rationed: bool, faster: list[str], source: str = "camera") -> str:
    """The warning while a stream analyses one frame in ``every`` (more than the page's setting):
    given the other live streams and whether the server rations analyses (``ServerLoad.streams``),
    and the settings that would make each analysis faster. With no other stream and no rationing,
    the level is this stream's own shedder (``LoadShedder``): its analyses take longer than its
    frames leave (attention, faces farther, an HD camera); "Server busy ... goes back to normal
    when the load drops" was then untrue, as no load would drop."""
    nth = f"{every}{ {2: 'nd', 3: 'rd'}.get(every, 'th')}"  # 2 to 8 (LoadShedder.max_every)
    if streams or rationed:
        return (f"Server busy: analysing every {nth} frame (the others reuse the last result). "
                "It goes back to normal when the load drops.")
    what = "the shared screen's" if source == "screen" else "your camera's"
    hint = (f" Switching off {' and '.join(faster)} makes each analysis faster." if faster else "")
    return (f"Analysing every {nth} frame: one analysis takes longer than {what} frames leave it "
            f"(the others reuse the last result).{hint}")


def live_analyzer() -> LiveAnalyzer:
    """This browser session's live-stream processor (tracker, smoothers, log)."""
    key = "fer_live_analyzer"
    if key not in st.session_state:
        st.session_state[key] = LiveAnalyzer(get_live_recognizer(), server=SERVER_LOAD)
    return st.session_state[key]


def live_log() -> SessionLog | None:
    analyzer = st.session_state.get("fer_live_analyzer")
    return analyzer.log if analyzer is not None else None


def has_unsaved_log() -> bool:
    """Whether this browser session holds a session log (live or analysed video) that lives
    only in memory: a reload or a closed tab starts a new session without it."""
    live = live_log()
    video = st.session_state.get("fer_video")
    return bool((live is not None and len(live)) or (video is not None and len(video["result"].log)))


#: Runs in a one-pixel ``st.iframe`` (same origin as the app). The handler is installed once by
#: a script element of the app page itself: a listener made by this frame stops working in
#: Chrome once the frame is replaced, which Streamlit does whenever the flag changes. Each run
#: of a page only sets the flag the handler reads.
_UNSAVED_JS = """<script>
(function () {
  const p = window.parent;
  try {
    if (!p.__ferUnsavedGuard) {
      p.__ferUnsavedGuard = true;
      const s = p.document.createElement("script");
      s.textContent = "window.addEventListener('beforeunload', function (e) {" +
        " if (window.__ferUnsaved) { e.preventDefault(); e.returnValue = ''; } });";
      p.document.head.appendChild(s);
    }
    p.__ferUnsaved = %s;
  } catch (e) {}
})();
</script>"""


_GUARD_SLOT = "_fer_unsaved_slot"


def unsaved_guard() -> None:
    """Called by the entry script on every run, before the page: a sidebar slot whose
    one-pixel script tells the browser whether to ask before the tab is closed or reloaded
    (its own wording: "Leave site? Changes that you made may not be saved."), set from
    :func:`has_unsaved_log`. Navigating between the app's pages does not unload the page and
    is not asked about."""
    st.session_state[_GUARD_SLOT] = st.sidebar.empty()
    set_unsaved()


def set_unsaved(active: bool | None = None) -> None:
    """Switch the guard of :func:`unsaved_guard` during a page's run, after the log changed
    (None: from :func:`has_unsaved_log` again): the live page once its stream logs the first
    faces, the video page once its analysis is done."""
    if active is None:
        active = has_unsaved_log()
    ctx = get_script_run_ctx()
    if ctx is not None:  # the server keeps such a session longer for a tab that lost its connection
        session_reaper.set_holding(ctx.session_id, active)
    slot = st.session_state.get(_GUARD_SLOT)
    if slot is not None:
        with slot:
            # Out of the Tab order: the keyboard's focus went to this invisible frame on every page,
            # and a screen reader named it "st.iframe".
            st.iframe(_UNSAVED_JS % ("true" if active else "false"), height=1, tab_index=-1,
                      alt="Page script: nothing to see")


def _add_moment(log: SessionLog, end_s: float, key: str, what: str) -> None:
    """:func:`moments_form`'s callback: it runs before the page, so the page's charts of the
    same run already show the new line."""
    when = st.session_state.get(f"{key}_time", "")
    text = st.session_state.get(f"{key}_text", "")
    st.session_state.pop(f"{key}_error", None)
    try:
        t = parse_time(when)
    except ValueError as e:
        st.session_state[f"{key}_error"] = f"{e}."
        return
    # Times with tenths in the messages: "0:08 is after the end (0:07)" read wrong for 8.6 s against 7.5 s.
    if t > end_s + 1.0:
        st.session_state[f"{key}_error"] = (f"{clock(t, 10)} is after the end of the {what} "
                                            f"({clock(end_s, 10)}).")
    elif t < log.start_s - 1.0:
        st.session_state[f"{key}_error"] = (f"{clock(t, 10)} is before the analysed part of the {what}, "
                                            f"which starts at {clock(log.start_s, 10)}.")
    elif not text.strip():
        st.session_state[f"{key}_error"] = "Give the moment a name."
    elif not log.add_marker(t, text):
        st.session_state[f"{key}_error"] = f"This {what} holds as many named moments as it can."


def moments_form(log: SessionLog, end_s: float, key: str, title: str, what: str) -> None:
    """An expander to name moments of ``log`` by time (``m:ss``) after the fact: a form, its
    error, the moments so far. ``key`` prefixes the widgets' keys; ``what`` names the session
    in messages ("video", "session"); ``end_s``: the last time a moment may have."""
    error = st.session_state.get(f"{key}_error")
    with st.expander(f"{title} ({len(log.markers)})", expanded=bool(log.markers or error)):
        with st.form(key, clear_on_submit=True, border=False):
            time_col, text_col, button_col = st.columns([1, 3, 1], vertical_alignment="bottom")
            time_col.text_input("At (m:ss)", key=f"{key}_time", placeholder="12:30")
            text_col.text_input("Moment", key=f"{key}_text", max_chars=MARKER_CHARS,
                                placeholder="e.g. group work starts")
            button_col.form_submit_button("Add", width="stretch", on_click=_add_moment,
                                          args=(log, end_s, key, what))
        if error:
            st.error(md_literal(error), icon=":material/error:")
        if log.markers:
            st.dataframe(markers_table(log.markers), hide_index=True, width="stretch")
        st.caption("Named moments are drawn on the charts and kept in the CSV log, the dashboard and its report.")


#: The Video file page's keys of the view of an analysed video, dropped when another analysis replaces it.
VIDEO_VIEW_KEYS = ("fer_video_marker_error", "fer_video_clip", "fer_video_at", "fer_video_jump", "fer_clip_from",
                   "fer_clip_to")
#: Where a Video file analysis cut short hands its frames over to the next run: a dict whose
#: Event ``done`` is set once that run has put the analysis in ``state`` (or ended without one).
CUT_VIDEO = "fer_video_cut"
#: How long a run waits for that hand-over: the cut run stops after the frame it is analysing.
CUT_WAIT_S = 10.0


def take_cut_video() -> None:
    """Called by the entry script on every run, before the page: the frames that a Video file
    analysis had analysed when the page was used during it (Streamlit then stops that run) become
    the analysed video. With Streamlit's fast reruns this run starts at once, beside the stopped
    one, which can no longer use the session state: it hands them over through ``CUT_VIDEO``."""
    handover = st.session_state.get(CUT_VIDEO)
    if handover is None:
        return
    if not handover["done"].wait(CUT_WAIT_S):
        log.warning("a cut video analysis did not hand its frames over in %g s; looking again next run", CUT_WAIT_S)
        return
    del st.session_state[CUT_VIDEO]
    if "state" in handover:
        replace_video(handover["state"])
        for key in VIDEO_VIEW_KEYS:
            st.session_state.pop(key, None)


def replace_video(analysed: dict) -> None:
    """Make ``analysed`` the Video file page's analysed video; the upload of the one it replaces,
    if another file (left behind by a visit to another page), leaves Streamlit's upload store."""
    earlier = st.session_state.get("fer_video")
    if earlier is not None:
        before, now = (getattr(a["video"], "file_id", None) for a in (earlier, analysed))
        if before != now:
            drop_upload(earlier["video"])
    st.session_state["fer_video"] = analysed


def clock(t: float, rate: float) -> str:
    """m:ss of a video time, with tenths when frames were analysed more often than once a second."""
    if rate <= 1:
        return format_time(t)
    tenths = round(t * 10)
    return f"{format_time(tenths // 10)}.{tenths % 10}"


def file_stem(name: str) -> str:
    """An upload's name without its extension, for its downloads' names ("lecture" for
    "lecture_expressions.csv"): in NFC, as the dashboard's names (a Mac sends "é" as "e" and an
    accent apart), and within 150 bytes, cut between letters (a file name may have 255 bytes:
    a 250-byte upload name gave 279-byte download names)."""
    stem = unicodedata.normalize("NFC", name).rsplit(".", 1)[0]
    return textcut.head_bytes(stem, 150)


def time_left(fraction: float | None, elapsed_s: float) -> str:
    """How long a run that is ``fraction`` done after ``elapsed_s`` seconds has left, at the pace so
    far, for a progress bar: "about 4 min left" (the Video page said only how far into the video it
    was: a 90-minute lecture, or a 4K video at a fifth of real time, gave no idea when it would be
    done). "" until the pace is known: under 5% or 5 s in, or no fraction (a length not known)."""
    if fraction is None or not (0.05 <= fraction < 1.0) or elapsed_s < 5.0:
        return ""
    left = elapsed_s * (1.0 - fraction) / fraction
    if left < 60:
        return "less than a minute left"
    minutes = round(left / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


def show_moment(video: dict, t: float, df: pd.DataFrame | None = None) -> None:
    """The analysed video's frame for time ``t`` with its logged faces drawn, and a caption that
    lists them; a message instead when it cannot be decoded again. ``video``: the Video file
    page's state (``st.session_state["fer_video"]``) with its video kept; ``df``: its log's
    frame, when the caller has it already (else only the log's rows of that moment are read)."""
    log = video["result"].log
    try:
        shown = moment(video["video"], log if df is None else df, t, rate=video["rate"], markers=log.markers)
    except VideoDecodeError as e:
        st.error(f"**{md_literal(video['name'])}**: {e}", icon=":material/error:")
        return
    if shown is None:
        st.warning(f"The frame at {clock(t, video['rate'])} could not be decoded again.")
        return
    faces = ", ".join(f"Face {f.face_id} {f.label} {f.confidence:.0%}" for f in shown.faces) or "no face found"
    when = clock(shown.time_s, video["rate"])
    st.image(shown.image, channels="BGR", caption=f"{when}: {faces}", width="content",
             alt=annotated_alt(f"The video's frame at {when}", shown.faces))


def note_page(url_path: str) -> None:
    """Called by the entry script on every run, with the page about to run.

    Remembers that the user left the live page, so that page can tell a real return
    (the stream component was unmounted) from a rerun (see ``fer_app.webrtc_shim``).
    """
    if url_path != LIVE_PAGE:
        st.session_state["fer_left_live_page"] = True


def left_live_page() -> bool:
    """True (once) if another page ran since the live page last rendered."""
    return bool(st.session_state.pop("fer_left_live_page", False))


def camera_blocked_host(url: str | None) -> str | None:
    """The host of the app's address ``url`` when browsers give that page no camera and no
    shared screen (``navigator.mediaDevices`` exists only in a "secure context"): plain http,
    not at localhost (``localhost``, ``*.localhost``, 127.0.0.0/8, ``[::1]``). Else None, and
    None when the address is unknown.

    ``url`` is ``st.context.url``: the address in the visitor's browser, so an app behind a
    TLS-terminating proxy (deploy/ec2/haproxy.cfg) has https here, whatever the proxy sends
    on to Streamlit; no X-Forwarded-Proto to trust. A browser started with
    --unsafely-treat-insecure-origin-as-secure gets a camera all the same (the player then
    streams; this only warns)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme != "http" or not host:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a name
        pass
    return host


def privacy_caption() -> None:
    st.caption(PRIVACY_NOTE)


class ChartPacer:
    """When the live page redraws its charts while streaming: at most every ``every_s``, only
    when the log grew, and not while the session is busy, nor until ``calm_s`` after its last
    busy moment (a session near the limit flips in and out). With 8 tabs on two cores, charts
    redrawn every 5 s while busy cost half the fresh frames (docs/RELIABILITY.md)."""

    def __init__(self, every_s: float = 2.0, calm_s: float = 5.0) -> None:
        self.every_s, self.calm_s = every_s, calm_s
        self._drawn_at = self._busy_at = -math.inf
        self._logged = -1
        self.paused = False

    def step(self, now: float, busy: bool, logged: int) -> str:
        """``"draw"`` (redraw the charts now), ``"pause"`` (replace them with the paused note,
        once per busy spell) or ``"keep"`` (leave the page as it is)."""
        if busy:
            self._busy_at = now
        if now - self._busy_at < self.calm_s:
            if self.paused:
                return "keep"
            self.paused = True
            return "pause"
        if now - self._drawn_at < self.every_s or logged == self._logged:
            return "keep"
        self._drawn_at, self._logged, self.paused = now, logged, False
        return "draw"


def keep_choice(widget_key: str, state_key: str) -> Callable[[], None]:
    """A widget's ``on_change``: what the visitor chose in ``widget_key`` is kept in
    ``st.session_state[state_key]``, past the runs and pages that drop the widget's own state (the
    page sets the widget from it, else from its default). A partial of this module's function, as
    :func:`forget_when_emptied`."""
    return functools.partial(_keep_choice, widget_key, state_key)


def _keep_choice(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]
