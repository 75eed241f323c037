"""The charts' colours as readers see them: printed in black and white, and with a red-green colour
vision deficiency (about 1 man in 12). Two series of a chart read through its legend must differ
in grey and under simulated protanopia and deuteranopia, or differ in something besides colour:
a marker's shape, a line's dash, a hatching."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from benchmarks.class_logs import class_log
from fer_core import charts
from fer_core.annotate import LABEL_COLORS_HEX
from fer_core.compare import NEGATIVE, SHARE, VALENCE, measure_over_time
from fer_core.engagement import attention_timeline
from fer_core.labels import LABELS
from fer_core.session import binned_mix, face_binned

#: Two greys a reader matches to a legend's on a black-and-white printout are at least this many
#: L* apart. Happy's yellow and Neutral's light grey, 8.5 L* apart (5 as a printer's luma makes
#: them grey), printed as one grey; black toner's darkest is about L* 20, so 15 L* steps leave
#: room for five greys at most, which is about what a reader tells apart in small marks.
GREY_FLOOR = 15.0

#: Two colours under simulated protanopia or deuteranopia are at least this far apart (CIEDE2000).
#: 2 to 3 is a difference seen side by side; a small mark matched to a legend's swatch needs far
#: more. The Okabe-Ito colours, made to be told apart with these deficiencies, are 11.6 or more.
CVD_FLOOR = 10.0

#: Machado, Oliveira & Fernandes (2009), severity 1: linear RGB as a protanope or deuteranope sees it.
MACHADO = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
}


def _rgb(colour: str) -> np.ndarray:
    """``#rrggbb`` as sRGB values from 0 to 1."""
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(np.clip(rgb, 0.0, 1.0).reshape(1, 1, 3)).reshape(3)


def _simulate(rgb: np.ndarray, kind: str) -> np.ndarray:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(MACHADO[kind] @ linear, 0.0, 1.0)
    return np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)


def grey_gap(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart two colours print in grey, in L*: the lesser of their lightness's difference
    and that of the luma (Rec. 601) a printer's driver may make grey of instead."""

    def luma(rgb: np.ndarray) -> float:
        return float(_lab(np.full(3, rgb @ [0.299, 0.587, 0.114]))[0])

    return min(abs(_lab(a)[0] - _lab(b)[0]), abs(luma(a) - luma(b)))


def cvd_gap(a: np.ndarray, b: np.ndarray) -> float:
    """CIEDE2000 between two colours as a protanope or a deuteranope sees them, the lesser."""
    return min(float(deltaE_ciede2000(_lab(_simulate(a, k)), _lab(_simulate(b, k)))) for k in MACHADO)


def legend_entries(fig) -> list[tuple[str, np.ndarray, tuple]]:
    """Each series in the figure's legend: its name, the colour it shows (an area's fill as drawn:
    plotly's default is the line's colour at half strength, on white) and its other cues."""
    out = []
    for trace in fig.data:
        if trace.showlegend is False:
            continue
        mode = getattr(trace, "mode", None) or ""
        if trace.type == "bar":
            colour, pattern = _rgb(trace.marker.color), trace.marker.pattern.shape
        elif trace.stackgroup or (trace.fill and trace.fill != "none"):
            colour = _rgb(trace.fillcolor) if trace.fillcolor else (_rgb(trace.line.color) + 1.0) / 2.0
            pattern = trace.fillpattern.shape
        else:
            marker = trace.marker.color
            colour, pattern = _rgb(marker if isinstance(marker, str) and "markers" in mode else trace.line.color), None
        symbol = (trace.marker.symbol or "circle") if "markers" in mode else None
        dash = (trace.line.dash or "solid") if "lines" in mode else None
        out.append((trace.name, colour, (symbol, dash, pattern or None)))
    return out


def alike(fig) -> list[str]:
    """The pairs of series told apart by colour alone whose colours are too close in grey or
    with a colour vision deficiency: ``"Angry/Disgust grey 3.5 L*"``."""
    found = []
    for (na, ca, cue_a), (nb, cb, cue_b) in itertools.combinations(legend_entries(fig), 2):
        if cue_a != cue_b:
            continue
        if (g := grey_gap(ca, cb)) < GREY_FLOOR:
            found.append(f"{na}/{nb} grey {g:.1f} L*")
        if (d := cvd_gap(ca, cb)) < CVD_FLOOR:
            found.append(f"{na}/{nb} CVD {d:.1f} dE00")
    return found


@pytest.fixture(scope="module")
def session():
    return class_log(2, minutes=6, faces=8).to_frame()


@pytest.fixture(scope="module")
def sessions():
    return {f"week {i}": class_log(i, minutes=3, faces=4).to_frame() for i in range(1, 9)}


def test_expression_colours_stay_apart_with_red_green_deficiencies():
    """Angry's vermillion, Disgust's green, Happy's yellow and Surprise's orange: every pair of the
    seven expressions' colours is told apart by a protanope and a deuteranope (the closest: Fear
    and Neutral, 11.3; Happy and Surprise, 11.6)."""
    gaps = {
        f"{a}/{b}": cvd_gap(_rgb(LABEL_COLORS_HEX[a]), _rgb(LABEL_COLORS_HEX[b]))
        for a, b in itertools.combinations(LABELS, 2)
    }
    assert min(gaps.values()) >= CVD_FLOOR, sorted(gaps.items(), key=lambda kv: kv[1])[:3]


def test_session_charts_tell_expressions_apart_in_grey_and_with_cvd(session):
    """Printed in black and white, the per-face timeline's Angry, Disgust and Fear squares were one
    grey (3 to 5 L* apart), as were their bands of the expression mix over time; now each
    expression has a shape in the timeline and the probability lines, and those near another's
    grey are hatched in the stacked areas."""
    binned = face_binned(session, 10.0)
    figures = {
        "mix over time": charts.mix_area(binned_mix(session, 10.0, fill_gaps=True)),
        "per-face timeline": charts.face_timeline(binned),
        "face probabilities": charts.face_probabilities(binned, int(binned["face_id"].iloc[0])),
        "attention": charts.attention_timeline(attention_timeline(session, 10.0)),
    }
    found = {name: alike(fig) for name, fig in figures.items()}
    assert found == {name: [] for name in figures}, found


@pytest.mark.parametrize("measure", ["Happy", NEGATIVE, VALENCE])
def test_compare_charts_tell_sessions_and_expressions_apart(sessions, measure):
    """The Compare page's and report's charts of eight sessions: printed in black and white, the
    lines of sessions 1 and 3 (blue and green) were one grey, 1 L* apart, as were 4 and 7; each
    session's line now has a marker shape of its own. The stacked mix bars are hatched as the
    session's mix over time is."""
    from fer_core.compare import compare_sessions

    curves = measure_over_time(sessions, measure, axis=SHARE, segments=10)
    assert alike(charts.session_curves(curves, measure)) == []
    assert alike(charts.session_mix_bars(compare_sessions(sessions))) == []


def test_the_check_finds_colours_alike():
    """The check itself: two bars of Angry's and Disgust's colours, unhatched, are found alike in
    grey; a hatching on one of them tells them apart."""
    import plotly.graph_objects as go

    fig = go.Figure(
        [go.Bar(x=[1], y=["a"], name=lab, marker_color=LABEL_COLORS_HEX[lab]) for lab in ("Angry", "Disgust")]
    )
    assert alike(fig) == ["Angry/Disgust grey 3.5 L*"]
    fig.data[1].marker.pattern.shape = "x"
    assert alike(fig) == []


def _luminance(rgb: np.ndarray) -> float:
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a: np.ndarray, b: np.ndarray) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def plotly_inside_text(bar: np.ndarray) -> np.ndarray:
    """The colour plotly.js gives a bar's inside text when the figure names none (``Color.contrast``:
    white on a colour tinycolor calls dark, brightness under 128 of 255; else #444)."""
    return np.ones(3) if bar @ [0.299, 0.587, 0.114] < 128 / 255 else _rgb("#444444")


def inside_texts(fig) -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    """Each bar trace's inside text (a percentage, a count): the trace's name, the text's colour as
    drawn, and what it is drawn on: the bar's colour and, hatched, the hatching's white lines over it."""
    out = []
    for trace in fig.data:
        if trace.type != "bar" or trace.text is None or trace.textposition not in ("inside", "auto"):
            continue
        per_bar = isinstance(trace.marker.color, (tuple, list))
        bars = list(trace.marker.color) if per_bar else [trace.marker.color]
        names = list(trace.y if trace.orientation == "h" else trace.x) if per_bar else [trace.name]
        fonts = trace.insidetextfont.color
        fonts = list(fonts) if isinstance(fonts, (tuple, list)) else [fonts] * len(bars)
        pattern = trace.marker.pattern
        for name, bar, font in zip(names, bars, fonts):
            fill = _rgb(bar)
            under = [fill]
            if pattern.shape:
                strength = pattern.fgopacity if pattern.fgopacity is not None else 1.0
                under.append(strength * _rgb({"white": "#ffffff"}.get(pattern.fgcolor, pattern.fgcolor))
                             + (1 - strength) * fill)
            out.append((str(name), _rgb(font) if font else plotly_inside_text(fill), under))
    return out


def test_percentages_on_the_bars_are_readable(sessions):
    """The numbers written on the expression bars (the mix, the counts, the mix per session) are
    4.5:1 or more against the bar and its hatching, in either theme (a bar's colour is its own).
    Left to plotly, they were white on Angry's vermillion and Disgust's green (3.9 and 3.4:1; 1.7
    and 1.6:1 over their white hatching) and #444 on Fear's pink (3.2:1); now black, white on Sad's
    blue, 5.2:1 or more."""
    from fer_core.compare import compare_sessions

    mix = pd.Series({lab: 1 / len(LABELS) for lab in LABELS})
    figs = {"mix": charts.mix_bars(mix), "counts": charts.count_bars(pd.Series({lab: 10 for lab in LABELS})),
            "per session": charts.session_mix_bars(compare_sessions(sessions))}
    low = {}
    for what, fig in figs.items():
        texts = inside_texts(fig)
        assert len(texts) >= len(LABELS), what
        for name, text, under in texts:
            if (worst := min(_contrast(text, u) for u in under)) < 4.5:
                low[f"{what}: {name}"] = round(worst, 1)
    assert low == {}
