"""The Video file page's parts that outlive its run: the frame at a moment and the annotated copy
(fragments), and the callbacks of "Forget the video" and "Jump to".

Here, not in the page: Streamlit keeps a fragment (to run it again alone) and a widget's callback
or format until the session's next run, and a function defined in a page keeps every global of
that page's run alive with it: the log's frame and the charts' tables (an hour of a call of 25
faces at 2 frames a second, 180,000 observations: a 21 MB frame), per session, for as long as the
visitor stays on the page. So these take the page's state (``st.session_state["fer_video"]``, kept
anyway) and read from its log only the rows they need, when they need them.
"""

from __future__ import annotations

import functools
import math

import streamlit as st

from fer_app import support
from fer_core.review import annotated_video
from fer_core.session import format_time, parse_time
from fer_core.video import VideoDecodeError

#: The moment slider offers at most this many times (every analysed frame of shorter videos).
MAX_STOPS = 1500
#: An annotated video stops at about this size; it is held in the session's memory (a 1280 x 720
#: call analysed at 2 frames a second takes about 1 MB a minute: benchmarks/video_review.py).
CLIP_MB = 50


def stops(parts: list[tuple[float, float]], rate: float) -> list[float]:
    """The times the moment slider offers: every analysed frame of the analysed parts, or evenly
    spaced ones."""
    step = 1.0 / rate
    grid = [k for a, b in parts for k in range(math.ceil(a / step - 1e-9), int(b / step + 1e-9) + 1)]
    every = math.ceil(len(grid) / MAX_STOPS)  # analysed frames per stop
    return [round(k * step, 3) for k in grid[::every]]


def forget_video() -> None:
    """Let the analysed video go (its analysis stays), from the uploader as well."""
    support.drop_upload(st.session_state["fer_video"]["video"])
    st.session_state["fer_video"]["video"] = None
    st.session_state.pop("fer_video_clip", None)
    st.session_state["fer_video_uploads"] = st.session_state.get("fer_video_uploads", 0) + 1


def _jump(offered: list[float], times: dict[str, float]) -> None:
    """The "Jump to" choice moves the slider (to the nearest time it offers)."""
    choice = st.session_state.get("fer_video_jump")
    if choice in times:
        st.session_state["fer_video_at"] = min(offered, key=lambda t: abs(t - times[choice]))
    # Back to the placeholder: the box does not go on naming a moment once the slider has moved
    # on, and the same moment can be chosen again.
    st.session_state["fer_video_jump"] = None


@st.fragment
def look_at(state: dict, jumps: list[tuple[float, str]]) -> None:
    """The slider, "Jump to" and the frame: a fragment, so that moving the slider redraws only the
    frame, not the charts above. ``state``: the page's analysis, its video kept."""
    offered = stops(state["parts"], state["rate"])
    c1, c2 = st.columns([2, 1])
    at = c1.select_slider(
        "Time in the video",
        offered,
        key="fer_video_at",
        format_func=functools.partial(support.clock, rate=state["rate"]),
    )
    times = {label: t for t, label in sorted(jumps)}
    c2.selectbox(
        "Jump to",
        list(times),
        index=None,
        key="fer_video_jump",
        on_change=_jump,
        args=(offered, times),
        placeholder="a change or a named moment",
        disabled=not jumps,
    )
    support.show_moment(state, at)


@st.fragment
def annotated_copy(state: dict, stem: str) -> None:
    """The annotated MP4: a range, pixelation, a button, the download (a fragment too)."""
    result = state["result"]
    start_s, end_s = result.start_s, result.end_s
    st.caption(
        "The analysed frames with each face's box, number, expression and confidence, and the "
        "video time; each frame is shown until the next, so it plays in real time at "
        f"{state['rate']:g} frames a second"
        + ("; the gaps between the analysed parts are left out" if len(state["parts"]) > 1 else "")
        + ". It is made in memory and handed to your browser; "
        f"nothing is written to the server's disk. A copy stops at about {CLIP_MB} MB (about "
        f"{CLIP_MB} minutes of a 1280 x 720 call)."
    )
    c1, c2, c3 = st.columns(3)
    start_text = c1.text_input("From (m:ss)", format_time(start_s), key="fer_clip_from")
    end_text = c2.text_input("To (m:ss)", format_time(end_s + 1), key="fer_clip_to")
    anonymise = c3.toggle(
        "Pixelate faces",
        value=True,
        key="fer_clip_anonymise",
        help="For sharing: every face the analysis found is pixelated under its label, "
        "and so is every box it set aside as probably not a face (a profile may be "
        "one). A face the detector missed in a frame stays visible: watch the clip "
        "before you share it.",
    )
    try:
        # An empty "To" is the end of the analysis, as for "Analyse to".
        span = (parse_time(start_text), min(parse_time(end_text), end_s) if end_text.strip() else end_s)
        if span[0] > end_s:
            raise ValueError(f"the analysis ends at {support.clock(end_s, state['rate'])}: start before that")
        if span[1] < span[0]:
            raise ValueError("the end is before the start")
    except ValueError as e:
        st.error(f"Times: {support.md_literal(str(e))}", icon=":material/error:")
        return  # and no clip made for other times below the message
    if st.button("Make the annotated video"):
        bar = st.progress(0.0, text="Drawing and encoding...")
        try:
            clip = annotated_video(
                state["video"],
                result.log.to_frame(),
                rate=state["rate"],
                start_s=span[0],
                end_s=span[1],
                anonymise=anonymise,
                markers=result.log.markers,
                max_bytes=CLIP_MB * 1024 * 1024,
                parts=state["parts"],
                progress=lambda f, s: bar.progress(f, text=f"Drawing and encoding... {s:.0f} s"),
            )
        except VideoDecodeError as e:
            st.error(f"**{support.md_literal(state['name'])}**: {e}", icon=":material/error:")
        else:
            bar.empty()
            st.session_state["fer_video_clip"] = {"clip": clip, "anonymised": anonymise}
    made = st.session_state.get("fer_video_clip")
    if made is None:
        return
    clip = made["clip"]
    if not clip.frames:
        st.warning("No analysed frame lies between those times.")
        return
    if clip.set_aside_pixelated:
        st.caption(
            f"Also pixelated: {clip.set_aside_pixelated} boxes that the analysis did not count as "
            "faces, in case one was."
        )
    if clip.stopped_early:
        st.warning(
            f"The clip reached {CLIP_MB} MB and stops at {format_time(clip.end_s)}; make the "
            "rest as a second clip from there."
        )
    name = f"{stem}_{format_time(clip.start_s)}-{format_time(clip.end_s)}".replace(":", "")
    st.download_button(
        f"Annotated video {format_time(clip.start_s)}-{format_time(clip.end_s)}"
        f"{', faces pixelated' if made['anonymised'] else ''} "
        f"({len(clip.data) / 1e6:.1f} MB)",
        clip.data,
        f"{name}{'_pixelated' if made['anonymised'] else ''}.mp4",
        "video/mp4",
        on_click="ignore",
    )
