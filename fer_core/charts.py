"""Plotly figures shared by the pages and the HTML report (no Streamlit here)."""
from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fer_core import textcut
from fer_core.annotate import LABEL_COLORS_HEX
from fer_core.labels import LABELS
from fer_core.session import format_time

# The legend hangs from the figure's bottom edge, below the axis title: pinned to a fraction of
# the plot area instead (y=-0.2), its second and third rows on a phone-wide page grew upward over
# the "time (s)" title.
# The title sits just above the plot area, under plotly's tool bar (the "modebar", about 26 px high
# at the figure's top right, shown on hover or a tap): in the top margin's middle, on a phone-wide
# page (a 358 px chart) the 224 px bar covered the title's second half ("Expression mix, la[...]").
_LAYOUT = dict(margin=dict(l=10, r=10, t=64, b=10), title_yref="paper", title_y=1, title_yanchor="bottom",
               title_pad_b=8, legend=dict(orientation="h", yref="container", y=0, yanchor="bottom"),
               template="plotly_white")
#: Height of plotly's tool bar at the figure's top, in px (the title stays below it).
MODEBAR_PX = 28

#: Guide lines drawn on the chart's background (named moments, the valence-arousal path): a
#: mid grey, readable (3:1 or more) on the light theme's and the HTML report's white and on
#: Streamlit's dark theme, which follows the visitor's system setting.
GUIDE_GREY = "#888888"

#: A second cue beside each expression's colour, for the charts read through their legend. Printed
#: in black and white, Angry's vermillion, Disgust's green and Fear's pink were one grey (3 to 5
#: L* apart) and Surprise's orange another's; seven colours cannot be seven greys a reader tells
#: apart on paper. The markers of the per-face timeline and of the probability lines take a shape...
LABEL_SYMBOLS: dict[str, str] = {"Angry": "triangle-up", "Disgust": "x", "Fear": "diamond", "Happy": "circle",
                                 "Sad": "triangle-down", "Surprise": "star", "Neutral": "square"}
#: ... and the stacked bars and areas a light hatching, on the expressions whose grey is near
#: another's: Happy, Sad and Neutral (a mid grey for it) stay plain, their greys 15 L* or more apart.
LABEL_PATTERNS: dict[str, str] = {"Angry": "/", "Disgust": "x", "Fear": "\\", "Surprise": "."}


def label_pattern(label: str) -> dict:
    """The hatching of ``label``'s bars and areas (:data:`LABEL_PATTERNS`): white lines over its
    colour, none for the plain ones."""
    return dict(shape=LABEL_PATTERNS.get(label, ""), fillmode="overlay", fgcolor="white", fgopacity=0.6,
                size=7, solidity=0.3)


def _luminance(rgb: Sequence[float]) -> float:
    """The WCAG relative luminance of an sRGB colour (values from 0 to 1)."""
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _inside_text_colour(label: str) -> str:
    """Black or white, whichever stands out more against ``label``'s bars and their hatching
    (:func:`label_pattern`'s white lines)."""
    fill = [int(LABEL_COLORS_HEX[label][i:i + 2], 16) / 255 for i in (1, 3, 5)]
    under = [fill]
    if LABEL_PATTERNS.get(label):
        strength = label_pattern(label)["fgopacity"]
        under.append([strength + (1 - strength) * c for c in fill])

    def worst(text: float) -> float:
        return min((max(text, _luminance(u)) + 0.05) / (min(text, _luminance(u)) + 0.05) for u in under)

    return "#000000" if worst(0.0) >= worst(1.0) else "#ffffff"


#: The colour of the numbers written on each expression's bars. Left to plotly (white on a dark
#: colour, else #444), they were white on Angry's vermillion and Disgust's green (3.9 and 3.4:1;
#: 1.7 and 1.6:1 over their white hatching) and #444 on Fear's pink (3.2:1); now 5.2:1 or more.
LABEL_TEXT_COLORS: dict[str, str] = {lab: _inside_text_colour(lab) for lab in LABELS}


#: Time axes are plotly date axes from 1970-01-01 00:00 (:func:`clock_x`): their ticks and hover
#: read as clocks, m:ss or h:mm:ss as :func:`~fer_core.session.format_time` writes them, and stay
#: clocks when zoomed. On a plain axis of seconds a 90-minute class read "5400", which nobody
#: reads as 1:30:00. The times go as text without a time zone: plotly.js reads a number on a date
#: axis as milliseconds in the browser's own time zone, so that 0 s read "16:00:00" in California.
_EPOCH = np.datetime64(0, "ms")


def clock_x(seconds: object) -> np.ndarray:
    """Times in seconds as the values of a time axis (:func:`clock_axis`): ``1970-01-01T00:44:50.000``
    for 2690 s, to the millisecond. The inverse is :func:`clock_seconds`."""
    ms = np.round(np.asarray(seconds, np.float64) * 1000.0).astype("timedelta64[ms]")
    return np.datetime_as_string(_EPOCH + ms, unit="ms")


def clock_seconds(values: object) -> np.ndarray:
    """The seconds of a time axis's values (:func:`clock_x`)."""
    stamps = np.asarray(values, dtype="datetime64[ms]")
    return (stamps - _EPOCH).astype(np.float64) / 1000.0


def clock_format(last_s: float) -> str:
    """The d3 time format of times up to ``last_s`` seconds: ``m:ss``, or ``h:mm:ss`` from an hour on."""
    return "%-H:%M:%S" if last_s >= 3600 else "%-M:%S"


def clock_text(seconds: float, last_s: float) -> str:
    """A time as a chart's axis of times up to ``last_s`` shows it (:func:`clock_format`): ``6:40``,
    or ``0:06:40`` on an axis that reaches an hour."""
    if last_s < 3600:
        return format_time(seconds)
    whole = int(max(0.0, float(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def clock_axis(first_s: float, last_s: float, title: str = "time", *, pad: bool = False) -> dict:
    """A time axis of clock ticks for times from ``first_s`` to ``last_s`` seconds; ``pad``: a
    little room either side (for markers, whose own padding reached below 0, "59:50")."""
    fmt = clock_format(last_s)
    # Fractions only on ticks closer than a second: plotly's stops include both ends, and [None, 1000]
    # gave ticks a second apart (a face's probabilities over 6 s of a 12 s clip) "0:00.000, 0:01.000".
    # Tenths on ticks from 0.1 s ("0:06.5"), milliseconds below.
    axis = dict(type="date", title=f"{title} ({'h:mm:ss' if last_s >= 3600 else 'm:ss'})", tickformat=fmt,
                hoverformat=fmt, tickformatstops=[dict(dtickrange=[None, 99], value=f"{fmt}.%L"),
                                                  dict(dtickrange=[100, 999], value=f"{fmt}.%1f")])
    if pad and last_s > first_s:
        room = 0.02 * (last_s - first_s)
        axis["range"] = [str(clock_x(max(0.0, first_s - room))), str(clock_x(last_s + room))]
    return axis


#: Steps between the clock ticks of a colour bar (which plotly cannot draw as a date axis).
_CLOCK_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
                10800.0, 21600.0, 43200.0, 86400.0)


def clock_ticks(first_s: float, last_s: float, most: int = 7) -> list[float]:
    """At most ``most`` round clock times (seconds) from ``first_s`` to ``last_s``, for a colour
    bar's ticks: every 10:00 over a 90-minute class, not 0, 1000, 2000..."""
    span = last_s - first_s
    step = next((s for s in _CLOCK_STEPS if span / s <= most - 1), float(np.ceil(span / (most - 1))) or 1.0)
    return [float(v) for v in np.arange(np.ceil(first_s / step) * step, last_s + 1e-9, step)]


def _span(times: object) -> tuple[float, float]:
    """The first and last of ``times`` (seconds); 0, 0 when there are none."""
    t = np.asarray(times, np.float64)
    return (float(t.min()), float(t.max())) if t.size else (0.0, 0.0)


#: Named moments' labels: a row's height, and the width of the plot they are laid out for (a
#: chart as wide as the page's column; a narrower one lets labels come closer than this counts).
MARKER_ROW_PX = 16
_MARKER_PLOT_PX = 900
_MARKER_CHAR_PX = 6.5  # 11 px text, on average
_MARKER_WIDE_PX = 11.0  # a Chinese or Japanese character, a Korean syllable, an emoji: a full em


def _marker_px(text: str) -> float:
    """About how many pixels ``text`` takes as a marker's label: Chinese and Japanese characters
    (and emoji) are as wide as the font is high, near twice a Latin letter; combining marks take none."""
    return sum(0.0 if unicodedata.combining(c) else
               _MARKER_WIDE_PX if unicodedata.east_asian_width(c) in "WF" else _MARKER_CHAR_PX for c in text)


def marker_rows(markers: Sequence[tuple[float, str]], span_s: float, rows: int = 4) -> list[int]:
    """The row of each named moment's label (0 at the top): a label goes to the first row where it
    does not run into the label before it, so moments close in time ("quiz starts" and "quiz ends"
    two minutes apart in a 50-minute class) do not print over each other; after ``rows`` rows it
    goes back to the one whose last label ends first. ``span_s``: the time the axis spans."""
    per_s = _MARKER_PLOT_PX / max(span_s, 1e-9)  # pixels a second
    ends: list[float] = []  # per row: where its last label ends, in pixels
    out = [0] * len(markers)
    for i in sorted(range(len(markers)), key=lambda k: markers[k][0]):
        t, text = markers[i]
        x = float(t) * per_s
        row = next((r for r, end in enumerate(ends) if end <= x), None)
        if row is None:
            row = len(ends) if len(ends) < rows else min(range(rows), key=ends.__getitem__)
            if row == len(ends):
                ends.append(0.0)
        ends[row] = x + _marker_px(text) + 8
        out[i] = row
    return out


def _time_span(fig: go.Figure, markers: Sequence[tuple[float, str]]) -> float:
    """The seconds a time chart's axis spans: its traces' times (:func:`clock_x` text) and the markers'."""
    times = [float(t) for t, _ in markers]
    for trace in fig.data:
        x = getattr(trace, "x", None)
        if x is not None and len(x) and isinstance(x[0], str):
            try:
                secs = clock_seconds(list(x))
            except ValueError:
                continue
            times += [float(secs.min()), float(secs.max())]
    return max(times) - min(times) if times else 0.0


def add_markers(fig: go.Figure, markers: Sequence[tuple[float, str]] = ()) -> go.Figure:
    """Dotted vertical lines at the session's named moments (``SessionLog.markers``), each with
    its text at the top, on a time axis (:func:`clock_axis`); ``t`` in seconds. All in one layout update: plotly's
    ``add_vline`` copies the layout each time (500 markers took two minutes that way)."""
    if not markers:
        return fig
    lines = [dict(type="line", xref="x", yref="paper", x0=str(clock_x(t)), x1=str(clock_x(t)), y0=0, y1=1,
                  line=dict(dash="dot", color=GUIDE_GREY, width=1.5)) for t, _ in markers]
    rows = marker_rows(markers, _time_span(fig, markers))
    # Plotly reads a subset of HTML in annotation text: escaped, a "<" in a marker stays one.
    notes = [dict(xref="x", yref="paper", x=str(clock_x(t)), y=1, xanchor="left", yanchor="top", showarrow=False,
                  yshift=-MARKER_ROW_PX * row, text=html.escape(text), font=dict(size=11, color="#222222"),
                  bgcolor="rgba(255,255,255,0.7)")
             for (t, text), row in zip(markers, rows)]
    fig.update_layout(shapes=[*fig.layout.shapes, *lines], annotations=[*fig.layout.annotations, *notes])
    return fig


#: The shading of a time chart's spans with nothing analysed (:func:`shade_unanalysed`).
UNANALYSED_FILL = "rgba(136, 136, 136, 0.35)"
UNANALYSED_TEXT = "not analysed"
#: At most this many bands say "not analysed", the widest: the words of more would overlap.
UNANALYSED_NOTES = 3


def shade_unanalysed(fig: go.Figure, spans: Sequence[tuple[float, float]] = ()) -> go.Figure:
    """Grey bands over the spans of a time chart where nothing was analysed
    (``session.unanalysed``: a live stream stopped or without a picture, the time between parts of
    a video), "not analysed" at the foot of the widest :data:`UNANALYSED_NOTES`: the stacked mix reads
    0 % there and a face's row is empty, which without it said nobody was in view. (A session of many
    short pauses wrote the words over each other, once a band.) The words take the theme's text
    colour: #222222, they were 1.4:1 on the dark theme's band."""
    if not spans:
        return fig
    bands = [dict(type="rect", xref="x", yref="paper", x0=str(clock_x(a)), x1=str(clock_x(b)), y0=0, y1=1,
                  fillcolor=UNANALYSED_FILL, line=dict(width=0), layer="above") for a, b in spans]
    widest = sorted(spans, key=lambda span: span[0] - span[1])[:UNANALYSED_NOTES]
    notes = [dict(xref="x", yref="paper", x=str(clock_x(a)), y=0, xanchor="left", yanchor="bottom",
                  showarrow=False, text=UNANALYSED_TEXT, font=dict(size=11))
             for a, _ in sorted(widest)]
    fig.update_layout(shapes=[*fig.layout.shapes, *bands], annotations=[*fig.layout.annotations, *notes])
    return fig


def probability_bars(faces: Sequence, title: str = "Probabilities per face") -> go.Figure:
    """Bars of the 7 probabilities; one group per face (``FaceResult``/``TrackedFace``)."""
    fig = go.Figure()
    for i, face in enumerate(faces, 1):
        fid = getattr(face, "face_id", i)
        fig.add_bar(x=list(LABELS), y=list(face.probabilities), name=f"Face {fid}",
                    text=[f"{p:.0%}" for p in face.probabilities], textposition="outside",
                    marker_color=[LABEL_COLORS_HEX[lab] for lab in LABELS] if len(faces) == 1 else None)
    fig.update_layout(title=title, barmode="group", yaxis=dict(range=[0, 1.1], tickformat=".0%",
                      title="probability"), showlegend=len(faces) > 1, **_LAYOUT)
    return fig


def mix_bars(mix: pd.Series, title: str = "Expression mix") -> go.Figure:
    """Horizontal bars of the share of each expression (``session.expression_mix``)."""
    mix = mix.reindex(list(LABELS), fill_value=0.0)
    fig = go.Figure(go.Bar(x=mix.values, y=list(mix.index), orientation="h",
                           marker_color=[LABEL_COLORS_HEX[lab] for lab in mix.index],
                           text=[f"{v:.0%}" for v in mix.values], textposition="auto",
                           insidetextfont_color=[LABEL_TEXT_COLORS[lab] for lab in mix.index]))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"),
                      yaxis=dict(autorange="reversed"), height=300, **_LAYOUT)
    if not mix.sum() > 0:  # no face in the rows it was taken over (the last 10 s with nobody in view)
        fig.add_annotation(text="No face in view", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                           font=dict(size=16))
    return fig


def count_bars(counts: pd.Series, title: str = "Observations by top expression") -> go.Figure:
    """Bars of how many face observations had each expression as the top label."""
    counts = counts.reindex(list(LABELS), fill_value=0)
    fig = go.Figure(go.Bar(x=list(counts.index), y=counts.values, text=counts.values,
                           marker_color=[LABEL_COLORS_HEX[lab] for lab in counts.index],
                           textposition="auto", insidetextfont_color=[LABEL_TEXT_COLORS[lab] for lab in counts.index]))
    fig.update_layout(title=title, yaxis=dict(title="observations"), height=300, **_LAYOUT)
    return fig


def mix_area(binned: pd.DataFrame, changes: pd.DataFrame | None = None,
             title: str = "Expression mix over time", markers: Sequence[tuple[float, str]] = (),
             unanalysed: Sequence[tuple[float, float]] = ()) -> go.Figure:
    """Stacked area chart of ``session.binned_mix``; dashed lines at ``changes.time_s``, dotted
    named lines at ``markers``. Bins of zeros (``fill_gaps``) show as drops to 0 %: nobody in view,
    but for the ``unanalysed`` spans, shaded (:func:`shade_unanalysed`)."""
    fig = go.Figure()
    x = clock_x(binned.index.to_numpy())
    for lab in LABELS:
        if lab in binned:
            fig.add_scatter(x=x, y=binned[lab].to_numpy(), name=lab, mode="lines", stackgroup="mix",
                            # Filled in the colour itself, as the bars are: at plotly's half strength
                            # Happy's and Neutral's greys on paper were 9 L* apart.
                            line=dict(width=0.5, color=LABEL_COLORS_HEX[lab]), fillcolor=LABEL_COLORS_HEX[lab],
                            fillpattern=label_pattern(lab),
                            hovertemplate="%{y:.0%}")
    if changes is not None:
        for t in changes.get("time_s", []):
            fig.add_vline(x=str(clock_x(t)), line_dash="dash", line_color="black", opacity=0.5)
    fig.update_layout(title=title, xaxis=clock_axis(*_span(binned.index)), hovermode="x unified",
                      yaxis=dict(range=[0, 1], tickformat=".0%", title="share (0 = no face)"), height=380,
                      **_LAYOUT)
    return add_markers(shade_unanalysed(fig, unanalysed), markers)


#: The per-face timeline draws at most this many faces, those seen in the most time bins: a class
#: of 30 that leave and come back (each time under a new number) has 80-90 numbers in 90 minutes,
#: and a log of a million faces (a damaged or hostile CSV) sent the browser 36 MB of points.
MAX_TIMELINE_FACES = 60


#: ... and at most this many time bins across the session. Each bin of each face is a square of
#: 6-20 px, so more bins than the chart has pixels only overlap; a 90-minute class of 30 faces in
#: 1 s bins was 129,000 squares, which headless Chromium took 15 s to draw (3 s in 10 s bins).
#: The other charts with a mark per bin (the attention timeline's, the valence-arousal path) keep
#: within as many: a 3-hour session in 1 s bins was 10,800 marks each, 1.4 and 1.6 s to draw.
MAX_TIMELINE_BINS = 600
_TIMELINE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def timeline_bin(bin_s: float, span_s: float, most: int = MAX_TIMELINE_BINS) -> float:
    """The bin for the per-face timeline of a session ``span_s`` seconds long: ``bin_s``, or the
    first round bin above it that keeps the session within ``most`` bins (:data:`MAX_TIMELINE_BINS`)."""
    if span_s / bin_s <= most:
        return bin_s
    fits = [s for s in _TIMELINE_STEPS if s > bin_s and span_s / s <= most]
    return fits[0] if fits else float(np.ceil(span_s / most))


def timeline_title(bin_s: float, chosen_s: float, what: str = "Per-face timeline") -> str:
    """The title of the per-face timeline (or of ``what``, another chart in :func:`timeline_bin`'s
    bins), with its bin when :func:`timeline_bin` made it coarser."""
    return what if bin_s == chosen_s else f"{what}, {bin_s:g} s bins ({chosen_s:g} s: too many to draw)"


#: The per-face timeline's rows are this many pixels high, down to :data:`TIMELINE_ROW_MIN_PX`
#: where the rows would take more than :data:`TIMELINE_ROWS_PX` in all. The chart was at most 900
#: px high: 60 faces (a class of 25 who leave and come back in 90 minutes has 70) got 12 px rows,
#: plotly labelled every second or third ("Face 2, Face 5, Face 8") and the squares overlapped.
TIMELINE_ROW_PX = 28.0
TIMELINE_ROW_MIN_PX = 18.0
TIMELINE_ROWS_PX = 750.0


def timeline_row_px(rows: int) -> float:
    """The height of a row of the per-face timeline of ``rows`` faces, in pixels."""
    return max(TIMELINE_ROW_MIN_PX, min(TIMELINE_ROW_PX, TIMELINE_ROWS_PX / max(rows, 1)))


def face_timeline(face_binned: pd.DataFrame, title: str = "Per-face timeline",
                  markers: Sequence[tuple[float, str]] = (),
                  unanalysed: Sequence[tuple[float, float]] = ()) -> go.Figure:
    """One row per anonymous face, in number order (Face 2 above Face 10); a dot per time bin,
    coloured by its top expression; the ``unanalysed`` spans shaded (:func:`shade_unanalysed`). Past
    :data:`MAX_TIMELINE_FACES` faces, those seen in the most bins, as the title says."""
    ids = face_binned["face_id"].value_counts(sort=False) if not face_binned.empty else pd.Series(dtype=int)
    if len(ids) > MAX_TIMELINE_FACES:
        # Most bins first, then the lower number; the rows stay in number order.
        kept = ids.index[np.lexsort((ids.index.to_numpy(), -ids.to_numpy()))[:MAX_TIMELINE_FACES]]
        face_binned = face_binned[face_binned["face_id"].isin(kept)]
        title = f"{title}: the {MAX_TIMELINE_FACES} faces seen longest, of {len(ids)}"
    rows = sorted(face_binned["face_id"].unique(), reverse=True)  # the first face on top
    pitch = timeline_row_px(len(rows))
    fig = go.Figure()
    for lab in LABELS:
        d = face_binned[face_binned["label"] == lab]
        if d.empty:
            continue
        # 6 to 20 px marks in rows of 28 px, smaller in narrower rows so that rows do not overlap;
        # a shape per expression, told apart on a black-and-white printout.
        size = (6 + 14 * d["confidence"].to_numpy()) * pitch / TIMELINE_ROW_PX
        # Not clipped at the plot area's edge: the first bin of a face seen from 0:00 sits on the
        # left edge (the axis starts at 0), and on a phone (a 300 px plot area) the 2 % of room
        # on the right is 6 px, half a mark; both showed half dots. Marks outside a zoomed range
        # are still hidden (plotly hides those whose centre is out of range).
        fig.add_scatter(x=clock_x(d["time_s"]), y=[f"Face {i}" for i in d["face_id"]], mode="markers", name=lab,
                        cliponaxis=False,
                        marker=dict(color=LABEL_COLORS_HEX[lab], size=size, symbol=LABEL_SYMBOLS[lab]),
                        customdata=d["confidence"], hovertemplate=f"{lab} %{{customdata:.0%}} at %{{x}}")
    # In number order: "category descending" sorted the names as text, Face 1, 11, 12, ..., 2, 20.
    fig.update_layout(title=title, xaxis=clock_axis(*_span(face_binned["time_s"]), pad=True),
                      height=150 + round(pitch * max(len(rows), 1)),
                      # The legend's shapes at one size, not the first mark's (a small one, low confidence).
                      legend_itemsizing="constant",
                      # Every face named, not every second one when the rows are close (on paper).
                      # The names clear of a mark at 0:00 (drawn over the edge, up to 10 px wide).
                      yaxis=dict(categoryorder="array", categoryarray=[f"Face {i}" for i in rows], dtick=1,
                                 ticklabelstandoff=12),
                      **_LAYOUT)
    return add_markers(shade_unanalysed(fig, unanalysed), markers)


def attention_timeline(timeline: pd.DataFrame, title: str = "Attention over time",
                       markers: Sequence[tuple[float, str]] = (),
                       unanalysed: Sequence[tuple[float, float]] = ()) -> go.Figure:
    """``engagement.attention_timeline``: share of faces looking at the camera and share with
    eyes closed per bin (left axis), mean yaw and pitch (right axis, dotted and dashed); the
    ``unanalysed`` spans shaded (:func:`shade_unanalysed`)."""
    fig = go.Figure()
    x = clock_x(timeline.index.to_numpy())
    fig.add_scatter(x=x, y=timeline["looking"].to_numpy(), name="looking at camera", mode="lines+markers",
                    line=dict(color="#0072b2"), hovertemplate="%{y:.0%}")
    fig.add_scatter(x=x, y=timeline["eyes_closed"].to_numpy(), name="eyes closed", mode="lines",
                    line=dict(color="#d55e00"), hovertemplate="%{y:.0%}")
    # Dotted and dashed: both dotted, the grey and the green were one grey on a black-and-white printout.
    for col, colour, dash in (("yaw", "#666666", "dot"), ("pitch", "#009e73", "dash")):
        fig.add_scatter(x=x, y=timeline[col].to_numpy(), name=f"mean {col} (deg)", mode="lines", yaxis="y2",
                        line=dict(color=colour, dash=dash), hovertemplate="%{y:.0f} deg")
    fig.update_layout(title=title, xaxis=clock_axis(*_span(timeline.index)), hovermode="x unified", height=340,
                      yaxis=dict(range=[0, 1], tickformat=".0%", title="share of faces"),
                      # Every 30 degrees: synced with the left axis's 6 ticks, it read -60, -36, -12, 12...
                      yaxis2=dict(title="degrees", overlaying="y", side="right", range=[-60, 60],
                                  tickmode="linear", tick0=0, dtick=30, showgrid=False), **_LAYOUT)
    return add_markers(shade_unanalysed(fig, unanalysed), markers)


def valence_arousal_path(va: pd.DataFrame, title: str = "Valence and arousal over the session (derived)") -> go.Figure:
    """``engagement.valence_arousal_timeline`` as a path in the valence-arousal plane, coloured by
    time, with the seven expressions' places (``engagement.CIRCUMPLEX``) for reference."""
    from fer_core.engagement import CIRCUMPLEX

    fig = go.Figure()
    fig.add_scatter(x=[v for v, _ in CIRCUMPLEX.values()], y=[a for _, a in CIRCUMPLEX.values()],
                    mode="markers+text", text=list(CIRCUMPLEX), textposition="top center", name="expressions",
                    marker=dict(color=[LABEL_COLORS_HEX[lab] for lab in CIRCUMPLEX], size=9, symbol="diamond"),
                    hoverinfo="text")
    t = va.index.to_numpy(np.float64)
    ticks = clock_ticks(*_span(t))
    fig.add_scatter(x=va["valence"].to_numpy(), y=va["arousal"].to_numpy(), mode="lines+markers",
                    name="session", line=dict(color=GUIDE_GREY, width=1),
                    marker=dict(color=t, colorscale="Viridis", size=7,
                                colorbar=dict(title="time", thickness=10, tickvals=ticks,
                                              ticktext=[clock_text(v, _span(t)[1]) for v in ticks])),
                    customdata=[clock_text(v, _span(t)[1]) for v in t],
                    hovertemplate="%{customdata}: valence %{x:.2f}, arousal %{y:.2f}")
    fig.update_layout(title=title, height=380, xaxis=dict(range=[-1, 1], title="valence (unpleasant - pleasant)",
                                                          zeroline=True),
                      yaxis=dict(range=[-1, 1], title="arousal (calm - excited)", zeroline=True), **_LAYOUT)
    return fig


def face_probabilities(face_binned: pd.DataFrame, face_id: int) -> go.Figure:
    """The 7 probabilities of one face over time."""
    d = face_binned[face_binned["face_id"] == face_id]
    fig = go.Figure()
    for lab in LABELS:
        fig.add_scatter(x=clock_x(d["time_s"]), y=d[lab], name=lab, mode="lines+markers",
                        line=dict(color=LABEL_COLORS_HEX[lab]), marker=dict(symbol=LABEL_SYMBOLS[lab], size=7),
                        hovertemplate=f"{lab} %{{y:.0%}} at %{{x}}<extra></extra>")
    fig.update_layout(title=f"Face {face_id}: probabilities over time", xaxis=clock_axis(*_span(d["time_s"])),
                      yaxis=dict(range=[0, 1], tickformat=".0%"), height=320, **_LAYOUT)
    return fig


def confusion_heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str] = LABELS,
                      title: str = "Confusion matrix (rows: true, columns: predicted)") -> go.Figure:
    """Row-normalised confusion matrix; the counts in the hover text."""
    df = pd.DataFrame(matrix, index=list(labels), columns=list(labels), dtype=float)
    norm = df.div(df.sum(axis=1).replace(0, 1), axis=0)
    fig = go.Figure(go.Heatmap(z=norm.values, x=list(labels), y=list(labels), colorscale="Blues",
                               zmin=0, zmax=1, customdata=df.values,
                               text=[[f"{v:.0%}" for v in row] for row in norm.values],
                               texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{customdata:.0f}<extra></extra>"))
    fig.update_layout(title=title, yaxis=dict(autorange="reversed"), height=450, **_LAYOUT)
    return fig


def per_class_bars(table: pd.DataFrame, title: str = "Per-class scores",
                   names: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars of the numeric score columns (precision, recall, F1...) per class; ``names``: the
    legend's name of a column (``{"recall": "found"}``), in that order, the others after."""
    names = dict(names or {})
    scores = ("precision", "recall", "f1", "accuracy")
    fig = go.Figure()
    for col in [c for c in dict.fromkeys([*names, *scores]) if c in scores and c in table]:
        fig.add_bar(x=list(table.index), y=table[col], name=names.get(col, col),
                    text=[f"{v:.0%}" for v in table[col]], textposition="outside")
    fig.update_layout(title=title, barmode="group", yaxis=dict(range=[0, 1.1], tickformat=".0%"),
                      height=380, **_LAYOUT)
    return fig


#: Session names on the Compare charts are cut to about this many characters (:func:`short_names`).
SHORT_NAME = 32


def short_names(names: Sequence[str], most: int = SHORT_NAME) -> list[str]:
    """``names`` (distinct) cut in the middle to ``most`` characters, "2024-09-02_Intro_…section.csv",
    or longer where that would make two alike. File names of 70 characters took half of a wide
    page beside the bars, and on a phone the bars' labels lost their start (the dates that told the
    lectures apart) past the page's edge and the legend its end."""
    def cut(name: str, size: int) -> str:
        # Between letters (fer_core.textcut): cut by code point, an accent from macOS (NFD) went onto
        # the "…", a Hindi conjunct or a flag lost its second half.
        head = (size - 1) * 3 // 5
        return name if len(name) <= size else f"{textcut.head(name, head)}…{textcut.tail(name, size - 1 - head)}"

    names = [str(n) for n in names]
    sizes = dict.fromkeys(names, most)
    while True:
        shown = {n: cut(n, size) for n, size in sizes.items()}
        seen: dict[str, list[str]] = {}
        for n, text in shown.items():
            seen.setdefault(text, []).append(n)
        alike = [n for group in seen.values() if len(group) > 1 for n in group]
        if not alike:  # at full length they differ: this ends
            return [shown[n] for n in names]
        for n in alike:
            sizes[n] += 1


def session_mix_bars(comparison: pd.DataFrame, title: str = "Expression mix per session") -> go.Figure:
    """``compare.compare_sessions``: one 100 % bar per session, split into the seven shares."""
    # Plotly reads a subset of HTML in labels: a session named '<a href="...">' (a file name can
    # be) drew a working link. Escaped, it reads as written; the whole name in the hover.
    names = [html.escape(n) for n in short_names(comparison.index)]
    full = [html.escape(str(n)) for n in comparison.index]
    fig = go.Figure()
    for lab in LABELS:
        values = comparison[lab].to_numpy(dtype=float)
        fig.add_bar(y=names, x=values, name=lab, orientation="h",
                    marker=dict(color=LABEL_COLORS_HEX[lab], pattern=label_pattern(lab)),
                    text=[f"{v:.0%}" if v >= 0.06 else "" for v in values], textposition="inside",
                    insidetextfont_color=LABEL_TEXT_COLORS[lab],
                    customdata=full, hovertemplate=f"{lab} %{{x:.1%}}<extra>%{{customdata}}</extra>")
    fig.update_layout(title=title, barmode="stack", xaxis=dict(range=[0, 1], tickformat=".0%"),
                      yaxis=dict(autorange="reversed"), height=140 + 40 * len(names), **_LAYOUT)
    fig.update_layout(legend_traceorder="normal")  # stacked bars list their legend backwards otherwise
    return fig


#: Session lines: Paul Tol's "bright" scheme (told apart with colour-vision deficiencies), then
#: a second round dashed, so eight sessions stay distinct in colour or in line style.
SESSION_COLORS = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb")
#: ... and a marker shape each: printed in black and white the blue and the green of sessions 1
#: and 3 were one grey (1 L* apart), as were the yellow and the grey of 4 and 7.
SESSION_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "triangle-down", "star", "cross")


def session_curves(curves: pd.DataFrame, measure: str, title: str | None = None) -> go.Figure:
    """``compare.measure_over_time``: one line per session. Shares on a 0-100 % axis, valence
    on -1 to 1; the x axis is the per cent of each session's time analysed or the time from its start
    (a clock, :func:`clock_axis`; ``curves`` indexed in minutes)."""
    from fer_core.compare import VALENCE

    fig = go.Figure()
    by_share = curves.index.name == "percent"
    minutes = curves.index.to_numpy(np.float64)
    x = minutes if by_share else clock_x(minutes * 60.0)
    share = measure != VALENCE
    for i, (name, shown) in enumerate(zip(curves.columns, short_names(curves.columns))):
        round_, k = divmod(i, len(SESSION_COLORS))
        fig.add_scatter(x=x, y=curves[name].to_numpy(dtype=float), name=html.escape(shown), mode="lines+markers",
                        line=dict(color=SESSION_COLORS[k], dash=("solid", "dash", "dot")[round_ % 3]),
                        marker=dict(symbol=SESSION_SYMBOLS[i % len(SESSION_SYMBOLS)], size=7),
                        connectgaps=False, hovertemplate="%{y:.0%}" if share else "%{y:.2f}")
    # The legend takes a row per session on a phone: the plot keeps its height above it.
    fig.update_layout(title=title or f"{measure} over each session", hovermode="x unified",
                      height=300 + 22 * len(curves.columns),
                      xaxis=dict(title="per cent of the time analysed", range=[0, 100]) if by_share
                      else clock_axis(*_span(minutes * 60.0), "time from the start"),
                      yaxis=dict(range=[0, 1], tickformat=".0%", title="share of observations") if share
                      else dict(range=[-1, 1], title="valence (unpleasant - pleasant)", zeroline=True),
                      **_LAYOUT)
    return fig
