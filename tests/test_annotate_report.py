"""Drawing, charts, the model-card reader and the HTML report."""
import json
import re
from dataclasses import dataclass
from unittest import mock

import cv2
import numpy as np

from fer_core import charts, model_card
from fer_core.annotate import LABEL_COLORS_BGR, annotate, draw_status, face_caption, results_table
from fer_core.labels import LABELS
from fer_core.report import ReportOptions, build_html_report
from fer_core.session import SessionLog, format_time


@dataclass
class Face:
    box: tuple
    label: str
    confidence: float
    probabilities: tuple = tuple([1 / 7] * 7)
    face_id: int | None = None


def test_annotate_draws_box_caption_and_bar_without_touching_input():
    img = np.zeros((200, 300, 3), np.uint8)
    out = annotate(img, [Face((100, 80, 60, 60), "Happy", 0.5, face_id=3)])
    assert img.sum() == 0 and out.shape == img.shape
    color = np.array(LABEL_COLORS_BGR["Happy"])
    assert (out[80:140, 100] == color).all(axis=1).mean() > 0.8  # left edge of the box
    assert out[40:80, 100:200].any()  # caption and bar above the box
    assert face_caption(Face((0, 0, 1, 1), "Sad", 0.87, face_id=2)) == "#2 Sad 87%"
    assert face_caption(Face((0, 0, 1, 1), "Sad", 0.5)) == "Sad 50%"
    # A photo's faces have no id: numbered by their place, as its table numbers them; an id goes first.
    assert face_caption(Face((0, 0, 1, 1), "Sad", 0.5), 3) == "#3 Sad 50%"
    assert face_caption(Face((0, 0, 1, 1), "Sad", 0.5, face_id=2), 3) == "#2 Sad 50%"


def test_confidence_bar_length_follows_confidence():
    def bar_pixels(conf):
        out = annotate(np.zeros((300, 400, 3), np.uint8), [Face((100, 150, 180, 100), "Angry", conf)])
        return int((out[:150] == np.array(LABEL_COLORS_BGR["Angry"])).all(axis=2).sum())
    assert bar_pixels(0.2) < bar_pixels(0.6) < bar_pixels(1.0)


def test_annotate_edge_cases():
    gray = np.zeros((50, 50), np.uint8)
    assert annotate(gray, []).shape == (50, 50, 3)
    img = np.zeros((100, 100, 3), np.uint8)
    annotate(img, [Face((0, 0, 100, 100), "Fear", 1.0), Face((90, 90, 30, 30), "Neutral", 0.0)], copy=False)
    assert img.any()  # drawn in place, faces at the border do not raise
    draw_status(img, "12.0 fps")
    rows = results_table([Face((1, 2, 3, 4), "Fear", 0.25, face_id=None)])
    assert rows[0]["face"] == 1 and rows[0]["w"] == 3 and set(LABELS) <= set(rows[0])
    # BGRA comes back BGR, the drawing visible (3-value colours once left every drawn pixel at alpha 0).
    bgra = np.zeros((100, 100, 4), np.uint8)
    out = annotate(bgra, [Face((10, 30, 60, 60), "Happy", 0.9)])
    assert out.shape == (100, 100, 3) and out.any() and not bgra.any()
    # Boxes of an edited log far outside the picture (OpenCV once raised on a width of 3e9): drawn cut.
    huge = annotate(np.zeros((100, 100, 3), np.uint8), [Face((10, 10, 3e9, 1e300), "Sad", 0.5),
                                                         Face((-1e12, 5, 20, 20), "Happy", 0.5)])
    assert huge[10:, 10, :].any() and huge[10, 10:, :].any()  # the first box's edges, to the picture's border


def drawn_blocks(image, faces, **kwargs):
    """``annotate``'s picture and its caption blocks (the black filled rectangles), as (x0, y0, x1, y1)."""
    real, blocks = cv2.rectangle, []

    def rectangle(img, p0, p1, colour, thickness=1, *args, **kw):
        if thickness == -1 and tuple(colour) == (0, 0, 0):
            blocks.append((*p0, *p1))
        return real(img, p0, p1, colour, thickness, *args, **kw)

    with mock.patch("fer_core.annotate.cv2.rectangle", rectangle):
        out = annotate(image, faces, **kwargs)
    return out, blocks


def meet(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_captions_of_crowded_pictures_cover_no_other_caption_nor_face_and_stay_in_the_picture():
    """Six faces side by side (a group photo), a call's 7 x 7 gallery of touching tiles, a class
    photo's rows that overlap, four faces on a 320 x 240 frame: each caption was drawn above its
    face, wider than it, over the neighbour's caption and the chin of the face above (on six real
    faces, #1 half hidden under #2). Now each goes where it covers no other: above, below, inside
    its own box, in smaller type where needed."""
    labels = ["Neutral", "Surprise", "Disgust", "Happy"]
    rng = np.random.default_rng(3)

    def faces(boxes):
        return [Face(tuple(int(v) for v in b), labels[i % 4], float(rng.uniform(0.3, 1))) for i, b in enumerate(boxes)]

    side_by_side = [(10 + 100 * i, 60, 100, 110) for i in range(6)]
    gallery = [(c * 182 + 4, r * 102 + 6, 174, 94) for r in range(7) for c in range(7)]
    class_rows = [(30 + 140 * c + 70 * (r % 2), 80 + 160 * r, 130, 150) for r in range(3) for c in range(8)]
    small = [(20 + 150 * c, 10 + 115 * r, 120, 105) for r in range(2) for c in range(2)]
    for (w, h), boxes in (((640, 240), side_by_side), ((1280, 720), gallery), ((1280, 720), class_rows),
                          ((320, 240), small)):
        group = faces(boxes)
        out, blocks = drawn_blocks(np.zeros((h, w, 3), np.uint8), group, numbered=True)
        assert len(blocks) == len(group)
        for i, block in enumerate(blocks):
            assert 0 <= block[0] and 0 <= block[1] and block[2] <= w and block[3] <= h, (w, h, block)
            assert not any(meet(block, other) for other in blocks[i + 1:]), (w, h, i)
            others = [(x, y, x + bw, y + bh) for j, (x, y, bw, bh) in enumerate(boxes) if j != i]
            assert not any(meet(block, other) for other in others), (w, h, i)


def test_a_face_alone_keeps_its_caption_above_it_or_gets_it_below_when_at_the_top():
    img = np.zeros((480, 640, 3), np.uint8)
    for box in ((200, 150, 120, 140), (0, 60, 300, 300), (560, 300, 80, 80)):
        _, [block] = drawn_blocks(img, [Face(box, "Surprise", 0.8, face_id=12)])
        scale = float(np.clip(box[2] / 180.0, 0.35, 0.9))
        (tw, th), base = cv2.getTextSize("#12 Surprise 80%", cv2.FONT_HERSHEY_SIMPLEX, scale, 1 if scale < 0.6 else 2)
        left = min(box[0], 640 - tw - 4)
        assert block == (left, box[1] - (th + base + max(3, int(th * 0.45)) + 6), left + tw + 4, box[1])
    # No room above: below the face, not over its forehead; and a face filling the frame, inside its top.
    _, [block] = drawn_blocks(img, [Face((200, 5, 160, 200), "Happy", 0.8)])
    assert block[1] == 205 and block[3] <= 480
    _, [block] = drawn_blocks(img, [Face((100, 0, 400, 480), "Happy", 0.8)])
    assert block[:2] == (100, 0)


@dataclass
class LookingFace(Face):
    pose: tuple | None = (0.0, 0.0, 0.0)
    eyes_open: tuple | None = (0.05, 0.05)
    looking_at_camera: bool | None = False


def test_a_caption_below_its_face_leaves_the_eyes_closed_mark_readable():
    img = np.zeros((480, 640, 3), np.uint8)
    out, blocks = drawn_blocks(img, [LookingFace((200, 10, 160, 180), "Sad", 0.6)])
    caption, mark = blocks  # the caption, then the "eyes closed" marker under the box
    assert mark[1] >= 190 and not meet(caption, mark) and caption[3] <= 480


def session_with_streak():
    log = SessionLog(source="unit test <script>")
    sad = [0.05, 0.0, 0.05, 0.05, 0.75, 0.05, 0.05]
    happy = [0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.1]
    for t in range(0, 300, 2):
        log.add_frame(float(t), [(1, (0, 0, 50, 50), sad), (2, (100, 0, 50, 50), happy if t < 150 else sad)])
    return log


def test_html_report_is_self_contained_and_complete():
    html = build_html_report(session_with_streak(), ReportOptions(source="Room <b>1</b>", negative_minutes=2.0))
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "Room &lt;b&gt;1&lt;/b&gt;" in html  # escaped
    assert "Article 5(1)(f)" in html
    # mix bars, mix over time, per-face timeline, valence-arousal path (no attention measured: no attention chart)
    assert html.count('class="plotly-graph-div"') == 4 and "Attention (head pose" not in html
    # plotly.js is inlined, and nothing is fetched from the network.
    assert len(html) > 1_000_000
    assert not re.search(r'<script[^>]+src=["\']https?:', html)
    assert "Face 1" in html and "Negative-expression flags" in html and "still going" in html
    assert "Moments of strongest change" in html


def test_html_report_of_part_of_a_video_says_which_part():
    whole = session_with_streak()
    assert "Duration covered: 4:58.0</li>" in build_html_report(whole)
    part = SessionLog(start_s=3600.0)
    for t, rows in whole.to_frame().groupby("time_s"):
        part.add_frame(t + 3600.0, [(r.face_id, (r.x, r.y, r.w, r.h), [getattr(r, lab) for lab in LABELS])
                                    for r in rows.itertuples()])
    html = build_html_report(part, ReportOptions(negative_minutes=2.0))
    assert "Duration covered: 4:58.0 (the video from 1:00:00.0 to 1:04:58.0)</li>" in html
    assert "Face 1" in html and "Negative-expression flags" in html
    # Joined with a later part, the log counts only the two parts' time, and names them.
    later = SessionLog(start_s=7200.0)
    later.add_frame(7200.0, [(1, (10, 10, 50, 50), [1.0 / len(LABELS)] * len(LABELS))])
    later.add_frame(7260.0, [])
    joined = build_html_report(SessionLog.join([part, later]))
    assert ("Time analysed: 5:58.0, in 2 parts of the video (1:00:00.0 to 1:04:58.0, 2:00:00.0 to 2:01:00.0); "
            "the gaps between them were not analysed</li>") in joined and "Duration covered" not in joined


def test_html_report_times_round_to_the_tenth_as_a_whole():
    """A live log's clock gives times such as 59.96 s: the report rounded the seconds alone and
    wrote "0:60.0" (and "59:60.0" for 3599.96 s). It cuts the tenths as the dashboard's m:ss
    (``format_time``) cuts the seconds: 0:59.9 there is 0:59 on the page."""
    for end, text in ((59.96, "0:59.9"), (119.97, "1:59.9"), (3599.96, "59:59.9"), (61.24, "1:01.2"),
                      (4.3, "0:04.3"), (3600.0, "1:00:00.0")):
        log = SessionLog(source="live")
        log.add_frame(0.0, [(1, (0, 0, 50, 50), [0, 0, 0, 1, 0, 0, 0])])
        log.add_frame(end, [])
        assert f"Duration covered: {text}</li>" in build_html_report(log), end
        assert text.startswith(format_time(end)), end


def test_html_report_dates_only_what_the_log_knows():
    """A live session says when it started, a video's analysis when it ran; a CSV read back does not
    record either, so its report gave the time of the upload as the session's start."""
    live = SessionLog(source="live")
    video = SessionLog(source="video")
    assert "session started " in build_html_report(live) and "analysed " in build_html_report(video)
    back = SessionLog.from_csv(session_with_streak().to_csv())
    assert back.started_at is None
    assert "session started" not in build_html_report(back) and " analysed 2" not in build_html_report(back)
    assert SessionLog.join([video]).started_at == video.started_at


def test_html_report_of_an_empty_session():
    html = build_html_report(SessionLog())
    assert "No faces were found" in html and 'class="plotly-graph-div"' not in html


def test_charts_build_for_empty_and_full_data():
    log = session_with_streak()
    from fer_core.session import binned_mix, current_mix, face_binned, label_counts, strongest_changes
    df = log.to_frame()
    figs = [charts.mix_bars(current_mix(df)), charts.count_bars(label_counts(df)),
            charts.mix_area(binned_mix(df, 10), strongest_changes(df)),
            charts.face_timeline(face_binned(df, 10)), charts.face_probabilities(face_binned(df, 10), 1),
            charts.probability_bars([Face((0, 0, 1, 1), "Sad", 0.3)]),
            charts.confusion_heatmap(np.eye(7).tolist())]
    assert all(f.to_dict()["data"] for f in figs)
    empty = SessionLog().to_frame()
    charts.mix_area(binned_mix(empty, 10))
    charts.face_timeline(face_binned(empty, 10))
    # A mix over rows without a face says so; one with faces has no such note.
    notes = [a.text for a in charts.mix_bars(current_mix(empty)).layout.annotations]
    assert notes == ["No face in view"] and not figs[0].layout.annotations


def test_chart_titles_sit_below_the_tool_bar():
    """On a phone (the live page's charts 358 px wide at a 390 px viewport) plotly's 224 px tool bar
    covered the second half of "Expression mix, last 10 s": the title was drawn in the middle of a
    40 px top margin, the bar's 26 px at its top. Now the title stands on the plot area, and the
    margin holds the bar and a line of title under it."""
    from fer_core.session import current_mix, label_counts
    df = session_with_streak().to_frame()
    for fig in (charts.mix_bars(current_mix(df), "Expression mix, last 10 s"), charts.count_bars(label_counts(df))):
        layout = fig.layout
        assert (layout.title.yref, layout.title.y, layout.title.yanchor) == ("paper", 1, "bottom")
        font_px = layout.title.font.size or layout.template.layout.title.font.size or 17
        assert layout.margin.t >= charts.MODEBAR_PX + font_px + layout.title.pad.b


def test_model_card_reader_is_defensive(tmp_path):
    assert model_card.load_card(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("[1, 2")
    assert model_card.load_card(tmp_path / "bad.json") == {}
    (tmp_path / "list.json").write_text("[1, 2]")
    assert model_card.load_card(tmp_path / "list.json") == {}
    assert model_card.splits({}) == {} and model_card.primary_split({}) is None
    flat = {"accuracy": 0.6, "per_class": {"happy": 0.9, "Sad": {"recall": "0.5", "support": 10}}}
    named = model_card.splits(flat)
    assert list(named) == ["test"]
    table = model_card.per_class_table(named["test"])
    assert table.loc["Happy", "recall"] == 0.9 and table.loc["Sad", "support"] == 10
    assert model_card.confusion_matrix({"confusion_matrix": [[1, 2]]}) is None
    assert model_card.confusion_matrix({"confusion_matrix": "x"}) is None
    assert model_card.scalar({"accuracy": "nan"}, "accuracy") is None
    # Metrics from models/eval/metrics.json when the card has none.
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.json").write_text(json.dumps({"splits": {"PublicTest": {"accuracy": 0.5},
                                                                            "PrivateTest": {"accuracy": 0.6}}}))
    (tmp_path / "eval" / "confusion.png").write_bytes(b"png")
    (tmp_path / "detector").mkdir()
    (tmp_path / "detector" / "x.png").write_bytes(b"png")
    m = model_card.metrics({}, tmp_path)
    assert model_card.primary_split(model_card.splits(m))[0] == "PrivateTest"
    # ... and only when they were measured on the card's model: a fine-tuned model copied over the
    # shipped one was shown with the shipped model's FER2013 figures.
    (tmp_path / "eval" / "metrics.json").write_text(json.dumps({"model_sha256": "a" * 64, "splits": {
        "PrivateTest": {"accuracy": 0.6}}}))
    assert model_card.metrics({"sha256": "a" * 64}, tmp_path)["splits"]["PrivateTest"]["accuracy"] == 0.6
    assert model_card.metrics({"sha256": "b" * 64}, tmp_path) == {}
    assert model_card.eval_matches({"sha256": "a" * 64}, tmp_path)
    assert not model_card.eval_matches({"sha256": "b" * 64}, tmp_path)
    assert [p.name for p in model_card.figures(tmp_path)] == ["confusion.png"]


def test_labels_of_moments_close_in_time_do_not_print_over_each_other():
    """A 50-minute class marked "quiz starts" at 10:00 and "quiz ends" at 12:00: both labels sat
    at the top of the chart, the second over the first. Close ones go a row down; far ones stay."""
    from fer_core.session import binned_mix

    log = SessionLog()
    for t in range(0, 3000, 10):
        log.add_frame(float(t), [(1, (0, 0, 50, 50), np.eye(7)[3])])
    moments = [(600.0, "quiz starts"), (720.0, "quiz ends"), (2400.0, "group work")]
    fig = charts.mix_area(binned_mix(log.to_frame(), 60), markers=moments)
    assert [a.yshift for a in fig.layout.annotations] == [0, -charts.MARKER_ROW_PX, 0]
    # On the axis of a 5-hour session they are as close; on a 10-minute one, far enough apart.
    assert charts.marker_rows(moments, 600.0 * 30) == [0, 1, 0]
    assert charts.marker_rows(moments[:2], 600.0) == [0, 0]
    # Many at once: at most four rows, each label in the row free soonest.
    crowd = [(float(i), f"m{i}") for i in range(10)]
    assert set(charts.marker_rows(crowd, 3000.0)) == {0, 1, 2, 3}


def test_markers_on_the_charts_and_in_the_report():
    import html as html_lib

    from fer_core.session import MAX_MARKERS, binned_mix, face_binned

    log = session_with_streak()
    log.add_marker(60.0, "group work <starts>")
    log.add_marker(200.5, "break")
    df = log.to_frame()
    for fig in (charts.mix_area(binned_mix(df, 10), markers=log.markers),
                charts.face_timeline(face_binned(df, 10), markers=log.markers)):
        assert list(charts.clock_seconds([shape.x0 for shape in fig.layout.shapes])) == [60.0, 200.5]
        assert [html_lib.unescape(a.text) for a in fig.layout.annotations] == ["group work <starts>", "break"]
    assert not charts.mix_area(binned_mix(df, 10)).layout.shapes
    many = [(float(i), f"m{i}") for i in range(MAX_MARKERS)]  # as many as a log holds, drawn at once
    assert len(charts.mix_area(binned_mix(df, 10), markers=many).layout.shapes) == MAX_MARKERS
    html = build_html_report(log)
    assert "Marked moments" in html and "group work &lt;starts&gt;" in html and "<td>3:20</td>" in html
    assert "Marked moments" not in build_html_report(session_with_streak())
    # A marker cannot close the report's scripts: the charts' JSON escapes it too.
    log.add_marker(90.0, "</script><script>alert(1)</script>")
    assert "<script>alert(1)" not in build_html_report(log)


# Streamlit follows the visitor's system setting: dark theme, background #0e1117. The HTML
# report and the light theme: white.
BACKGROUNDS = {"light": (255, 255, 255), "dark": (14, 17, 23)}


def _rgb_over(colour: str, background: tuple) -> tuple:
    """A plotly colour ("#rrggbb", "rgba(r,g,b,a)", "black") as seen over ``background``."""
    named = {"black": "#000000", "white": "#ffffff"}
    colour = named.get(colour, colour)
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    values = [float(v) for v in re.findall(r"[\d.]+", colour)]
    alpha = values[3] if len(values) == 4 else 1.0
    return tuple(alpha * c + (1 - alpha) * b for c, b in zip(values[:3], background))


def _contrast(a: tuple, b: tuple) -> float:
    def luminance(rgb):
        lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_guide_lines_are_readable_on_the_light_and_the_dark_theme():
    """The named moments' lines and the valence-arousal path run over the chart's background:
    3:1 or more on white and on Streamlit's dark background (before: #444444 dots, 1.9:1 on
    dark, and a path of rgba(0,0,0,0.3), invisible there)."""
    import pandas as pd

    from fer_core.engagement import valence_arousal_timeline
    from fer_core.session import face_binned

    log = session_with_streak()
    log.add_marker(60.0, "quiz")
    df = log.to_frame()
    att = pd.DataFrame({"looking": [1.0, 0.5], "eyes_closed": [0.0, 0.0], "yaw": [0.0, 20.0], "pitch": [0.0, 5.0]},
                       index=pd.Index([0.0, 10.0], name="time_s"))
    figs = [charts.face_timeline(face_binned(df, 10), markers=log.markers),
            charts.attention_timeline(att, markers=log.markers)]
    guides = [s.line.color for f in figs for s in f.layout.shapes]
    path = [t for t in charts.valence_arousal_path(valence_arousal_timeline(df, 10)).data if t.name == "session"]
    guides += [t.line.color for t in path]
    assert len(guides) == 3
    for colour in guides:
        for theme, bg in BACKGROUNDS.items():
            assert _contrast(_rgb_over(colour, bg), bg) >= 3.0, (colour, theme)


#: The charts' text colour where a figure sets none: Streamlit's theme gives the figure its own
#: (its light theme's; its dark theme's, the classic one and that of the Streamlit installed), the
#: HTML report plotly_white's.
THEME_TEXT = {"light": [(49, 51, 63)], "dark": [(250, 250, 250), (237, 235, 232)], "report": [(42, 63, 95)]}
#: ... and the backgrounds they go with (Streamlit's dark: #0e1117, and #171614 in the one installed).
THEME_BACKGROUNDS = {"light": [(255, 255, 255)], "dark": [(14, 17, 23), (23, 22, 20)], "report": [(255, 255, 255)]}


def test_chart_notes_are_readable_on_the_light_and_the_dark_theme():
    """The words on the time charts, "not analysed" at the foot of a shaded span and the named
    moments' labels, 4.5:1 or more against what they are drawn on, in either theme. "not analysed"
    was #222222 on the grey band: 11:1 on white, but 1.4:1 on the dark theme's band (measured in
    the browser: text (34, 34, 34) on (62, 61, 60)), nearly invisible; it now takes the theme's text
    colour."""
    import pandas as pd

    from fer_core.session import binned_mix, face_binned

    log = session_with_streak()
    log.add_marker(30.0, "quiz")
    df = log.to_frame()
    gap = [(20.0, 40.0)]
    att = pd.DataFrame({"looking": [1.0, 0.5], "eyes_closed": [0.0, 0.0], "yaw": [0.0, 20.0], "pitch": [0.0, 5.0]},
                       index=pd.Index([0.0, 50.0], name="time_s"))
    figs = [charts.mix_area(binned_mix(df, 10), markers=log.markers, unanalysed=gap),
            charts.face_timeline(face_binned(df, 10), markers=log.markers, unanalysed=gap),
            charts.attention_timeline(att, markers=log.markers, unanalysed=gap)]
    notes = [a for fig in figs for a in fig.layout.annotations]
    assert sorted({a.text for a in notes}) == ["not analysed", "quiz"]
    for note in notes:
        for theme, backgrounds in THEME_BACKGROUNDS.items():
            for bg in backgrounds:
                # Both notes lie in the shaded span: on the band over the background.
                under = _rgb_over(charts.UNANALYSED_FILL, bg)
                if note.bgcolor:
                    under = _rgb_over(note.bgcolor, under)
                texts = [_rgb_over(note.font.color, under)] if note.font.color else THEME_TEXT[theme]
                for text in texts:
                    assert _contrast(text, under) >= 4.5, (note.text, theme, bg, text)


def test_legend_hangs_below_the_axis_title():
    """On a phone-wide page a legend wraps to two or three rows; pinned to a fraction of the
    plot area (the old y=-0.2 with its bottom anchored) those rows grew upward over the
    x axis's title ("time (s)" under "Disgust" in the probabilities of one face). Anchored to
    the figure's bottom edge, plotly makes room for it below the title."""
    from fer_core.session import binned_mix, face_binned

    df = session_with_streak().to_frame()
    figs = [charts.face_probabilities(face_binned(df, 10), 1), charts.face_timeline(face_binned(df, 10)),
            charts.mix_area(binned_mix(df, 10))]
    for fig in figs:
        legend = fig.layout.legend
        assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")


def test_reports_fit_a_phone_screen():
    """A report mailed to a phone: without the viewport line the phone laid it out 980 px wide
    (the comparison, with its wide table, 1400 px) and shrank it to a third, 16 px text
    shown at 4 to 6 px. The wide table scrolls in its own box instead of widening the page."""
    from fer_core.report import build_comparison_report

    log = session_with_streak()
    reports = [build_html_report(log),
               build_comparison_report({"a": log.to_frame(), "b": session_with_streak().to_frame()})]
    for html in reports:
        head = html[:html.index("</head>")]
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in head
        table_css = re.search(r"table\.tbl \{([^}]*)\}", head).group(1)
        assert "overflow-x: auto" in table_css and "display: block" in table_css


def test_face_timeline_rows_in_number_order_and_at_most_its_limit():
    from fer_core.session import face_binned

    # A class that comes and goes: face 12 seen 100 s, face 2 60 s, face 100 a moment; as names,
    # "Face 100" < "Face 12" < "Face 2", and the rows came out in that order.
    log = SessionLog()
    for t in range(100):
        log.add_frame(float(t), [(12, (0, 0, 9, 9), [0, 0, 0, 1, 0, 0, 0])]
                      + ([(2, (20, 0, 9, 9), [0, 0, 0, 0, 0, 0, 1])] if t < 60 else [])
                      + ([(100, (40, 0, 9, 9), [0, 0, 0, 0, 1, 0, 0])] if t == 99 else []))
    fig = charts.face_timeline(face_binned(log.to_frame(), 10))
    assert list(fig.layout.yaxis.categoryarray) == ["Face 100", "Face 12", "Face 2"]  # from the bottom up
    assert fig.layout.title.text == "Per-face timeline"
    # 2,000 faces, in more bins the lower the number: the 60 seen longest, in number order.
    rows = sorted((float(t), i) for i in range(1, 2001) for t in range(0, 10 * (2001 - i), 500))
    many = SessionLog()
    for t, i in rows:
        many.add_frame(t, [(i, (0, 0, 9, 9), [0, 0, 0, 1, 0, 0, 0])])
    fig = charts.face_timeline(face_binned(many.to_frame(), 10))
    shown = [int(y.split()[1]) for trace in fig.data for y in trace.y]
    assert sorted(set(shown)) == list(range(1, charts.MAX_TIMELINE_FACES + 1))
    assert list(fig.layout.yaxis.categoryarray) == [f"Face {i}" for i in range(charts.MAX_TIMELINE_FACES, 0, -1)]
    assert fig.layout.title.text == f"Per-face timeline: the {charts.MAX_TIMELINE_FACES} faces seen longest, of 2000"


def test_face_timeline_of_a_long_session_in_short_bins_is_drawn_in_fewer():
    assert charts.timeline_bin(1, 90 * 60) == 10 and charts.timeline_bin(5, 90 * 60) == 10
    assert charts.timeline_bin(10, 90 * 60) == 10 and charts.timeline_bin(1, 10 * 60) == 1
    assert charts.timeline_bin(10, 8 * 3600) == 60 and charts.timeline_bin(60, 30 * 24 * 3600) == 4320
    # A 90-minute class in the report's 1 s bins: a square per face and second was 5,400 a face.
    log = SessionLog()
    for t in range(0, 90 * 60):
        log.add_frame(float(t), [(i, (60 * i, 0, 50, 50), [0.1, 0, 0, 0.3 * (t % 2), 0, 0, 0.9 - 0.3 * (t % 2)])
                                 for i in (1, 2, 3)])
    html = build_html_report(log, ReportOptions(bin_s=1.0))
    assert "Per-face timeline, 10 s bins (1 s: too many to draw)" in html
    from fer_core.session import face_binned
    fig = charts.face_timeline(face_binned(log.to_frame(), charts.timeline_bin(1.0, 90 * 60)))
    assert sum(len(trace.x) for trace in fig.data) == 3 * 540 <= 3 * charts.MAX_TIMELINE_BINS


def three_hour_log_with_attention() -> SessionLog:
    """One face watched for 3 hours at a row a second, with head pose, eyes and looking."""
    from types import SimpleNamespace

    log = SessionLog(source="live")
    for t in range(3 * 3600):
        p = [0.1, 0, 0, 0.3 * (t % 2), 0, 0, 0.9 - 0.3 * (t % 2)]
        log.add_frame(float(t), [SimpleNamespace(face_id=1, box=(0, 0, 50, 50), probabilities=p,
                                                 pose=(5.0 * (t % 7), 0.0, 0.0), eyes_open=(0.8, 0.8),
                                                 looking_at_camera=t % 3 > 0)])
    return log


def test_marks_per_bin_of_a_3_hour_session_in_short_bins_are_drawn_in_fewer(monkeypatch):
    """A session watched live for 3 hours, reported in 1 s bins: the attention timeline and the
    valence-arousal path had a mark for each of 10,800 bins (1.4 and 1.6 s for headless Chromium to
    draw, 1.8 MB). They keep within the per-face timeline's bins now, and say so in their titles."""
    drawn = {}
    for name in ("attention_timeline", "valence_arousal_path"):
        def record(table, *args, _name=name, _draw=getattr(charts, name), **kwargs):
            drawn[_name] = len(table)
            return _draw(table, *args, **kwargs)
        monkeypatch.setattr(charts, name, record)
    html = build_html_report(three_hour_log_with_attention(), ReportOptions(bin_s=1.0))
    assert drawn and all(0 < n <= charts.MAX_TIMELINE_BINS for n in drawn.values()), drawn
    assert drawn == {"attention_timeline": 3 * 3600 // 30, "valence_arousal_path": 3 * 3600 // 30}
    assert "Attention over time, 30 s bins (1 s: too many to draw)" in html
    assert "Valence and arousal over the session (derived), 30 s bins (1 s: too many to draw)" in html
    # A short session keeps its bins, and its titles.
    drawn.clear()
    short = SessionLog()
    for t in range(600):
        short.add_frame(float(t), [(1, (0, 0, 50, 50), [0, 0, 0, 1, 0, 0, 0])])
    html = build_html_report(short, ReportOptions(bin_s=1.0))
    assert drawn == {"valence_arousal_path": 600} and "too many to draw" not in html


def test_a_named_moment_in_any_script_is_drawn_readably():
    """OpenCV's fonts draw ASCII only, a "?" for each UTF-8 byte: "début" read "d??but" on the
    annotated video and the frames the pages show."""
    from fer_core.annotate import drawable

    assert drawable("début du quiz, Gruppenarbeit für Łódź") == "debut du quiz, Gruppenarbeit fur Lodz"
    assert drawable("中文 😀 ß ﬁ") == "?? ? ss fi" and drawable("12.0 fps") == "12.0 fps"
    shown = draw_status(np.zeros((40, 400, 3), np.uint8), "0:12  début 中文")
    assert np.array_equal(shown, draw_status(np.zeros((40, 400, 3), np.uint8), "0:12  debut ??"))



def _newplot_configs(html: str) -> list[dict]:
    """The config (the fourth argument) of every ``Plotly.newPlot`` call of a report."""
    decoder, configs = json.JSONDecoder(), []
    for call in re.finditer(r"Plotly\.newPlot\(\s*", html):
        pos, args = call.end(), []
        for _ in range(4):  # the div's id, data, layout, config: JSON values between commas
            value, pos = decoder.raw_decode(html, pos)
            args.append(value)
            pos = re.compile(r"\s*,?\s*").match(html, pos).end()
        configs.append(args[3])
    return configs


def test_report_charts_cannot_be_sent_to_plotly_cloud():
    """plotly.js's tool bar had a "Share chart..." button on every chart of the offline report,
    uploading it (the faces' timelines too) to cloud.plotly.com; the app's charts never had it."""
    from fer_core.report import build_comparison_report

    log = session_with_streak()
    for html in (build_html_report(log), build_comparison_report({"a": log.to_frame(), "b": log.to_frame()})):
        configs = _newplot_configs(html)
        assert len(configs) == html.count('class="plotly-graph-div"') >= 4
        assert all(c.get("showSendToCloud") is False and c.get("displaylogo") is False for c in configs)


def _outline(html: str) -> list[str]:
    """The report's headings and charts in document order: ``"h2 Summary"``, ``"chart"``."""
    body = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return [f"{m.group(1)} {m.group(2)}" if m.group(1) else "chart"
            for m in re.finditer(r'<(h[1-6])>(.*?)</h[1-6]>|class="plotly-graph-div"', body)]


def test_report_charts_sit_under_a_heading_of_their_own_and_say_when_they_cannot_draw():
    """A screen reader's list of headings put the charts under whatever table came last ("Marked
    moments", "Attention"); opened without JavaScript, they were empty boxes without a word."""
    from fer_core.report import build_comparison_report

    log = session_with_streak()
    log.add_marker(60.0, "quiz")
    for html in (build_html_report(log), build_comparison_report({"a": log.to_frame(), "b": log.to_frame()})):
        outline = _outline(html)
        first, n = outline.index("chart"), outline.count("chart")
        assert outline[first - 1] == "h2 Charts" and outline[first:first + n] == ["chart"] * n, outline
        assert "<noscript>" in html[html.index("<h2>Charts</h2>"):html.index('class="plotly-graph-div"')]
    assert "<h2>Charts</h2>" not in build_html_report(SessionLog())  # no charts, no heading


def test_time_axes_read_as_clocks_in_every_time_zone():
    """A 90-minute class: the time axes read 0, 1000, ... 5000 (seconds) and the hover "at 2690.0 s",
    where the rest of the app writes 44:50. They are clock axes now, h:mm:ss from an hour on (m:ss
    below), on the pages and in the report; the times go as text without a time zone, since
    plotly.js reads numbers on a date axis in the browser's zone (0 s read 16:00:00 in California)."""
    import pandas as pd

    from fer_core.compare import MINUTES, measure_over_time
    from fer_core.engagement import valence_arousal_timeline
    from fer_core.session import binned_mix, face_binned

    log = SessionLog(source="live")
    for t in np.arange(0.0, 5400.0, 5.0):
        log.add_frame(float(t), [(1, (0, 0, 50, 50), [0.1, 0.0, 0.1, 0.5, 0.1, 0.1, 0.1])])
    log.add_marker(2690.0, "quiz")
    df = log.to_frame()
    att = pd.DataFrame({"looking": [1.0, 0.5], "eyes_closed": [0.0, 0.0], "yaw": [0.0, 20.0], "pitch": [0.0, 5.0]},
                       index=pd.Index([0.0, 5390.0], name="time_s"))
    figs = [charts.mix_area(binned_mix(df, 10), markers=log.markers),
            charts.face_timeline(face_binned(df, 10), markers=log.markers),
            charts.attention_timeline(att, markers=log.markers), charts.face_probabilities(face_binned(df, 10), 1),
            charts.session_curves(measure_over_time({"a": df}, "Happy", axis=MINUTES, bin_min=5), "Happy")]
    for fig in figs:
        axis = fig.layout.xaxis
        assert axis.type == "date" and axis.tickformat == axis.hoverformat == "%-H:%M:%S", fig.layout.title.text
        assert "(s)" not in axis.title.text and "minutes" not in axis.title.text
        for trace in fig.data:
            assert all(isinstance(x, str) and x.startswith("1970-01-01T") and x[-1].isdigit() for x in trace.x)
            assert " s" not in (trace.hovertemplate or "")
    assert charts.clock_seconds(figs[0].data[0].x)[[0, -1]].tolist() == [0.0, 5390.0]
    assert charts.clock_seconds(figs[4].data[0].x)[:2].tolist() == [150.0, 450.0]  # 5-minute bins' middles
    assert [a.x for a in figs[1].layout.annotations] == ["1970-01-01T00:44:50.000"]
    assert charts.clock_seconds(figs[1].layout.xaxis.range).tolist() == [0.0, 5390.0 + 0.02 * 5390.0]
    # Below an hour, m:ss, as the rest of the app writes it.
    assert charts.mix_area(binned_mix(df[df["time_s"] < 600], 10)).layout.xaxis.tickformat == "%-M:%S"
    # The valence-arousal path has no time axis: its colour bar and hover give the clock.
    path = [t for t in charts.valence_arousal_path(valence_arousal_timeline(df, 600)).data if t.name == "session"][0]
    assert list(path.marker.colorbar.ticktext) == ["0:00:00", "0:15:00", "0:30:00", "0:45:00", "1:00:00",
                                                   "1:15:00", "1:30:00"][:len(path.marker.colorbar.tickvals)]
    assert path.customdata[1] == "0:10:00" and "%{customdata}" in path.hovertemplate
    html = build_html_report(log)
    assert '"type":"date"' in html and "time (s)" not in html


def test_attention_degrees_axis_ticks_every_30_degrees():
    """The right axis (mean yaw and pitch) followed the left one's six ticks and read -60, -36,
    -12, 12, 36, 60 degrees in Chromium; it ticks every 30 degrees from 0 now."""
    import pandas as pd

    att = pd.DataFrame({"looking": [1.0, 0.5], "eyes_closed": [0.0, 0.0], "yaw": [0.0, 20.0], "pitch": [0.0, 5.0]},
                       index=pd.Index([0.0, 10.0], name="time_s"))
    axis = charts.attention_timeline(att).layout.yaxis2
    assert (axis.tickmode, axis.tick0, axis.dtick, tuple(axis.range)) == ("linear", 0, 30, (-60, 60))


def test_face_timeline_of_a_class_labels_every_row_and_its_squares_do_not_overlap():
    """A class of 25 who leave and come back has 60 rows or more in 90 minutes. In a chart of at
    most 900 px they were 12 px apart: plotly labelled every second or third row in Chromium
    ("Face 2, Face 5, Face 8") and the 20 px squares covered their neighbours. Rows stay at least
    18 px apart (the chart grows), and the squares no larger than a row."""
    from fer_core.session import face_binned

    for faces, pitch in ((3, 28.0), (25, 28.0), (40, 750 / 40), (60, 18.0)):
        log = SessionLog()
        for t in range(0, 600, 5):
            log.add_frame(float(t), [(i, (0, 0, 9, 9), [0, 0, 0, 1, 0, 0, 0]) for i in range(1, faces + 1)])
        fig = charts.face_timeline(face_binned(log.to_frame(), 10))
        assert fig.layout.height == 150 + round(pitch * faces), faces
        assert max(max(trace.marker.size) for trace in fig.data) <= pitch - 2 + 1e-9, faces


def test_face_timeline_marks_at_either_end_are_drawn_whole_on_a_phone():
    """At 390 x 844 (the Video file page's charts 358 px wide, a plot area of about 300 px) the
    first dots of a face seen from 0:00 and the last ones at the end of the video showed as half
    dots: the axis starts at 0 (no room on the left) and its 2 % of room on the right was 6 px,
    and plotly clipped the 20 px marks at the plot area's edge."""
    from fer_core.session import face_binned

    log = SessionLog()
    for t in range(0, 17):
        log.add_frame(float(t), [(1 if t < 8 else 2, (0, 0, 9, 9), [0, 0, 0, 1, 0, 0, 0])])
    fig = charts.face_timeline(face_binned(log.to_frame(), 1.0))
    plot_px = 300
    start, end = (charts.clock_seconds([x])[0] for x in fig.layout.xaxis.range)
    seconds = np.concatenate([charts.clock_seconds(trace.x) for trace in fig.data])
    radius = max(max(trace.marker.size) for trace in fig.data) / 2
    assert seconds.min() == 0 and radius >= 9
    room_left = (seconds.min() - start) / (end - start) * plot_px
    room_right = (end - seconds.max()) / (end - start) * plot_px
    for trace in fig.data:
        # Drawn over the edge: the right margin, and the gap before the faces' names on the left.
        over = trace.cliponaxis is False
        left = room_left + ((fig.layout.yaxis.ticklabelstandoff or 0) if over else 0)
        right = room_right + (fig.layout.margin.r if over else 0)
        assert left >= radius and right >= radius, (trace.name, left, right)


def test_html_report_dates_in_the_readers_time_zone():
    """The server's clock is UTC: a class that started at 9:00 in Berlin read "session started
    2026-12-07 08:00 UTC" in its report. The pages pass the browser's zone (st.context.timezone);
    an unknown one falls back to UTC, said as such."""
    from datetime import UTC, datetime

    from fer_core.report import build_comparison_report

    live = SessionLog(source="live")
    live.started_at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    berlin = build_html_report(live, ReportOptions(timezone="Europe/Berlin"))
    assert "session started 2026-12-07 09:00 Europe/Berlin" in berlin
    assert re.search(r"generated \d{4}-\d\d-\d\d \d\d:\d\d Europe/Berlin", berlin)
    assert "session started 2026-12-07 08:00 UTC" in build_html_report(live)
    assert "session started 2026-12-07 08:00 UTC" in build_html_report(live, ReportOptions(timezone="Mars/Base"))
    # Nor a folder of the zone database, nor a name too long for a file: the dashboard, which names
    # its report by the date (session_filename), was an exception page (IsADirectoryError, OSError).
    from fer_core.report import session_filename

    for odd in ("Europe", "America", "Europe/" + "x" * 300):
        assert "session started 2026-12-07 08:00 UTC" in build_html_report(live, ReportOptions(timezone=odd))
        assert session_filename(live, ReportOptions(timezone=odd)) == "live_report_2026-12-07_0800.html"
    df = session_with_streak().to_frame()
    assert re.search(r"generated [\d :-]+ America/New_York",
                     build_comparison_report({"a": df, "b": df}, timezone="America/New_York"))


def _print_css(html: str) -> str:
    """The report's ``@media print`` block (nested braces included)."""
    start = html.index("@media print {")
    depth = 0
    for i in range(html.index("{", start), len(html)):
        depth += {"{": 1, "}": -1}.get(html[i], 0)
        if depth == 0:
            return html[start:i + 1]
    raise AssertionError("unclosed @media print")


def test_reports_print_whole_tables_and_charts_at_the_pages_width():
    """Printed or saved as PDF for a meeting: the comparison's table was cut at the page's edge in
    its scrolling box (its last 8 columns, Fear to looking at the camera, lost); charts were split
    between two pages; and from a laptop's window the charts kept their 1100 px, wider than the
    page, so that the browser shrank the whole report, text and all, to 71 %."""
    from fer_core.report import PRINT_CHART_PX, build_comparison_report

    log = session_with_streak()
    for html in (build_html_report(log), build_comparison_report({"a": log.to_frame(), "b": log.to_frame()})):
        css = _print_css(html)
        table = re.search(r"table\.tbl \{([^}]*)\}", css).group(1)
        assert "display: table" in table and "overflow: visible" in table
        assert re.search(r"\.plotly-graph-div[^{]*\{[^}]*break-inside: avoid", css)
        assert re.search(r"h2[^{]*\{[^}]*break-after: avoid", css)
        assert re.search(r"\.modebar-container \{[^}]*display: none", css)
        # Drawn at the page's width for the printout, back at the window's after it.
        script = html[html.rindex("<script>"):]
        assert f"fit(d, {PRINT_CHART_PX}," in script and "fit(d, null, d.dataset.screenHeight" in script
        assert PRINT_CHART_PX <= 718  # an A4 page's width at the browser's default margins


def test_report_counts_faces_as_the_dashboard_does_and_rounds_attention_as_measured():
    """A 50-minute class of 25 who leave and come back: the report said "Distinct anonymous faces:
    57" without the dashboard's word that face numbers are not people (at most 25 in view at once),
    and its attention table printed the tenths it holds with three decimals ("present (s) 937.700",
    "blinks/min 7.100"); the dashboard's table reads 937.7."""
    from benchmarks.class_logs import class_log
    from fer_core.engagement import attention_summary, attention_table

    log = class_log(0, minutes=6, faces=5, leave_per_hour=60.0)
    df = log.to_frame()
    in_view, faces = int(df.groupby("time_s").size().max()), log.summary().faces
    assert faces > in_view == 5
    html = build_html_report(log)
    assert (f"<li>Anonymous faces: {faces} (a face that leaves the picture and comes back gets a new one, so this "
            f"counts more than the people: at most {in_view} faces were in view at once)</li>") in html
    section = html[html.index("<h2>Attention"):html.index("<h2>Charts")]
    table = attention_table(attention_summary(df))
    for value in table["present (s)"]:
        assert f"<td>{value:.1f}</td>" in section
    assert not re.search(r"<td>\d+\.\d\d+</td>", section)
    # A face seen throughout: no remark.
    assert "<li>Anonymous faces: 2</li>" in build_html_report(session_with_streak())


def test_report_title_and_file_name_tell_sessions_apart():
    """Every report downloaded as "session_report.html" and saved as PDF under its document's
    title, "Expression session report.pdf", whichever class it was: a head of department with a
    term's reports in the mail could not tell them apart. The name and the title carry the
    source and the date (in the reader's zone); a CSV read back, which has no date, its name."""
    from datetime import UTC, datetime

    from fer_core.report import report_title, session_filename

    berlin = "Europe/Berlin"
    cases = [("live", "Live webcam session", "live_report_2026-12-07_0900.html",
              "Expression session report: Live webcam session, 2026-12-07 09:00 Europe/Berlin"),
             ("video", "Klasse 5b – Mathe.mp4", "Klasse_5b_Mathe_report_2026-12-07_0900.html",
              "Expression session report: Klasse 5b – Mathe.mp4, 2026-12-07 09:00 Europe/Berlin"),
             ("video", "", "video_report_2026-12-07_0900.html",
              "Expression session report: video, 2026-12-07 09:00 Europe/Berlin")]
    for source, shown, name, title in cases:
        log = SessionLog(source=source)
        log.started_at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        options = ReportOptions(source=shown, timezone=berlin)
        assert (session_filename(log, options), report_title(log, options)) == (name, title)
        assert f"<title>{title}</title>" in build_html_report(log, options)
    # The batch jobs' reports, in UTC (their header says "analysed 2026-12-07 08:00 UTC"): the title
    # said "2026-12-07 08:00", a reader in Berlin took it for 08:00 there.
    log = SessionLog(source="video")
    log.started_at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert (report_title(log, ReportOptions(source="lecture.mp4"))
            == "Expression session report: lecture.mp4, 2026-12-07 08:00 UTC")
    back = SessionLog.from_csv(session_with_streak().to_csv(), source="week 1.csv.gz")
    assert session_filename(back) == "week_1_report.html"
    assert report_title(back, ReportOptions(source="<b>")) == "Expression session report: <b>"
    assert "<title>Expression session report: &lt;b&gt;</title>" in build_html_report(back, ReportOptions(source="<b>"))
    assert session_filename(SessionLog(source="../..")).startswith("session_report_")


def _grey(colour: str) -> float:
    """``#rrggbb`` as a black-and-white printer renders it (luma, 0 to 255)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_attention_chart_lines_stay_apart_in_black_and_white():
    """The report printed in black and white: mean yaw (grey #666666) and mean pitch (green
    #009e73) were both dotted and one grey (102 and 106 of 255), so the printout could not tell
    which was which. Every two lines differ in style, or in grey by a third of the scale."""
    import pandas as pd

    tl = pd.DataFrame({"looking": [1.0, 0.5], "eyes_closed": [0.0, 0.0], "yaw": [0.0, 20.0], "pitch": [0.0, 5.0]},
                      index=pd.Index([0.0, 10.0], name="time_s"))
    lines = [(t.name, t.mode, t.line.dash or "solid", _grey(t.line.color))
             for t in charts.attention_timeline(tl).data]
    assert len(lines) == 4
    for i, (name, mode, dash, grey) in enumerate(lines):
        for other, mode2, dash2, grey2 in lines[i + 1:]:
            assert (mode, dash) != (mode2, dash2) or abs(grey - grey2) > 85, (name, other)


def test_report_file_names_keep_accents_and_vowel_signs_whole():
    """A lecture uploaded from a Mac ("séance" with its accent apart, NFD) downloaded as
    "Cours_d_e_te_se_ance_1_report....html", a Hindi one ("कक्षा १") as "कक_ष_१_..." and a Thai one
    as "ช_นเร_ยน_...": their accents and vowel signs are combining marks, no ``\\w``, and each
    became a "_". A long name is cut between letters, and short enough for a file's 255 bytes."""
    import unicodedata

    from fer_core.report import session_filename

    def named(source: str) -> str:
        log = SessionLog(source="video")
        log.started_at = None  # no date in the name
        return session_filename(log, ReportOptions(source=source))

    for shown in ("Cours d'été — séance 1.mp4", unicodedata.normalize("NFD", "Cours d'été — séance 1.mp4")):
        assert named(shown) == "Cours_d_été_séance_1_report.html"
    assert named("कक्षा १.mp4") == "कक्षा_१_report.html"
    assert named("ชั้นเรียน.mp4") == "ชั้นเรียน_report.html"
    assert named("授業_1組.mp4") == "授業_1組_report.html"
    assert named('a,b;c"d\'.mp4') == "a_b_c_d_report.html"
    # 59 letters and a Devanagari syllable of three code points across the 60th: the syllable goes whole.
    stem = named("a" * 59 + "क्षा" + ".mp4").removesuffix("_report.html")
    assert stem == "a" * 59
    wide = named("𠀀" * 100 + ".mp4")  # four bytes each
    assert len(wide.encode("utf-8")) < 200 and wide.startswith("𠀀" * 30)
    # A mark only with the letter it belongs to: an emoji's variation selector (U+FE0F, a mark) or a
    # name's stray accent stayed on its own, invisible, once the emoji or the "'" became a "_".
    assert named("Classe ☀️ 1.mp4") == "Classe_1_report.html"
    assert named("❤️ cours.mp4") == "cours_report.html"
    assert named("🏳️‍🌈" * 40 + ".mp4") == "session_report.html"
    assert named("\u0301\u0301.mp4") == "session_report.html"


def test_labels_of_moments_in_japanese_do_not_print_over_each_other():
    """A Tokyo class marked "グループ活動を始めます" at 10:00 and "グループ活動を終えます" at 15:00 of
    50 minutes: the labels were measured as Latin letters (6.5 px), 72 px, when each character takes
    a full em (11 px: 121 px in Chromium), and the second printed over the end of the first (17 px of
    it, in a 1100 px chart). A French moment of as many letters is measured as before."""
    japanese = [(600.0, "グループ活動を始めます"), (900.0, "グループ活動を終えます")]
    assert charts.marker_rows(japanese, 3000.0) == [0, 1]
    assert charts.marker_rows([(600.0, "quiz débuté"), (900.0, "quiz fini")], 3000.0) == [0, 0]
    # An accent from macOS (NFD, apart from its letter) takes no room of its own.
    import unicodedata

    nfd = unicodedata.normalize("NFD", "é" * 12)
    assert charts.marker_rows([(600.0, nfd), (900.0, "x")], 3000.0) == [0, 0]


def test_moment_names_cut_to_length_keep_a_flag_or_an_accent_whole():
    """A moment's name is cut to MARKER_CHARS; cut between code points, a French flag at the end
    lost its second half (a lone regional indicator, drawn as a box with an "F")."""
    from fer_core.session import MARKER_CHARS

    log = SessionLog()
    log.add_marker(1.0, "x" * (MARKER_CHARS - 1) + "🇫🇷")
    log.add_marker(2.0, "x" * (MARKER_CHARS - 1) + "e\u0301")
    assert [text for _, text in log.markers] == ["x" * (MARKER_CHARS - 1)] * 2


def test_report_dates_in_the_hour_the_clocks_go_back_say_which():
    """Berlin, 2026-10-25: the clocks go back from 03:00 to 02:00, so 02:00 to 02:59 come twice. A
    session started at the first 02:30 and reported at the second 02:15 read "generated 2026-10-25
    02:15 Europe/Berlin · session started 2026-10-25 02:30 Europe/Berlin", reported before it
    started. In that hour the offset is said; at other times, and in zones with half-hour offsets
    (Kolkata, St. John's, Lord Howe's half-hour switch), the dates read as before."""
    from datetime import UTC, datetime

    from fer_core.report import _when

    live = SessionLog(source="live")
    live.started_at = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    html = build_html_report(live, ReportOptions(timezone="Europe/Berlin"))
    assert "session started 2026-10-25 02:30 Europe/Berlin (UTC+02:00)" in html
    assert _when(datetime(2026, 10, 25, 1, 15, tzinfo=UTC), "Europe/Berlin") == \
        "2026-10-25 02:15 Europe/Berlin (UTC+01:00)"
    assert _when(datetime(2026, 10, 25, 2, 15, tzinfo=UTC), "Europe/Berlin") == "2026-10-25 03:15 Europe/Berlin"
    assert _when(datetime(2026, 4, 4, 14, 40, tzinfo=UTC), "Australia/Lord_Howe") == \
        "2026-04-05 01:40 Australia/Lord_Howe (UTC+11:00)"
    assert _when(datetime(2026, 4, 4, 15, 0, tzinfo=UTC), "Australia/Lord_Howe") == \
        "2026-04-05 01:30 Australia/Lord_Howe (UTC+10:30)"
    assert _when(datetime(2026, 11, 1, 4, 30, tzinfo=UTC), "America/St_Johns") == \
        "2026-11-01 01:00 America/St_Johns (UTC-03:30)"
    assert _when(datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "Asia/Kolkata") == "2026-12-07 13:30 Asia/Kolkata"
    assert _when(datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "America/St_Johns") == "2026-12-07 04:30 America/St_Johns"


def test_download_names_of_sessions_in_the_hour_the_clocks_go_back_differ():
    """London, 2026-10-25: 01:00 to 01:59 come twice. Two classes started at the first and at the
    second 01:30 both downloaded as "live_report_2026-10-25_0130.html", the second saved as "...
    (1).html" and the two logs alike. In that hour the name carries the offset from UTC, as the
    report's dates do; at any other time it reads as before."""
    from datetime import UTC, datetime

    from fer_core.report import session_filename

    def names(hour: int, minute: int, zone: str) -> tuple[str, str]:
        log = SessionLog(source="live")
        log.started_at = datetime(2026, 10, 25, hour, minute, tzinfo=UTC)
        options = ReportOptions(timezone=zone)
        return session_filename(log, options), session_filename(log, options, "log", "csv")

    first, second = names(0, 30, "Europe/London"), names(1, 30, "Europe/London")
    assert first == ("live_report_2026-10-25_0130_UTC+0100.html", "live_log_2026-10-25_0130_UTC+0100.csv")
    assert second == ("live_report_2026-10-25_0130_UTC+0000.html", "live_log_2026-10-25_0130_UTC+0000.csv")
    assert names(2, 30, "Europe/London")[0] == "live_report_2026-10-25_0230.html"  # once only
    assert names(23, 30, "Europe/London")[0] == "live_report_2026-10-25_2330.html"
    assert names(1, 30, "UTC")[0] == "live_report_2026-10-25_0130.html"
    log = SessionLog(source="live")
    log.started_at = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # New York's second 01:30
    assert session_filename(log, ReportOptions(timezone="America/New_York")) == \
        "live_report_2026-11-01_0130_UTC-0500.html"


def test_report_of_one_person_streamed_twice_says_why_it_counts_two_faces():
    """One student, the stream stopped and started again: the face comes back under a new number,
    and the report said "Anonymous faces: 2 (a face that leaves the picture and comes back gets a new
    one, so this counts more than the people: at most 1 faces were in view at once)": not a word of
    the STOP, and "1 faces were"."""
    log = SessionLog(source="live")
    for t in range(0, 600, 2):
        log.add_frame(float(t), [(1, (10, 10, 80, 80), [0, 0, 0, 1, 0, 0, 0])])
    log.resume()  # STOP, then START 10 minutes later
    for t in range(1200, 1800, 2):
        log.add_frame(float(t), [(2, (10, 10, 80, 80), [0, 0, 0, 1, 0, 0, 0])])
    assert ("<li>Anonymous faces: 2 (a face that leaves the picture and comes back gets a new one, and so does a face "
            "after the stream stopped, so this counts more than the people: at most 1 face was in view at "
            "once)</li>") in build_html_report(log)
    assert "the session ran 29:58.0, the rest with the stream stopped or without a picture</li>" in \
        build_html_report(log)


def test_time_charts_shade_a_live_pause_and_the_valence_path_breaks_there():
    """60 minutes of a class, the stream stopped (or without a picture) from 20:00 to 30:00: the
    stacked mix dropped to 0 %, its axis saying "0 = no face", and the per-face and attention charts
    were blank there without a word, as if the class had left; the valence-arousal path drew a line
    straight across the 10 minutes. The charts now shade the 10 minutes "not analysed", and the
    path breaks there."""
    import pandas as pd

    from fer_core.engagement import attention_timeline, valence_arousal_timeline
    from fer_core.session import binned_mix, face_binned, unanalysed

    log = SessionLog(source="live")
    att = (0.0, 0.0, 0.0, 0.9, 0.9, 1.0)
    for t in np.arange(0.0, 1200.0, 0.5):
        log.add_frame(float(t), [(1, (10, 10, 80, 80), [0, 0, 0, 0.9, 0, 0, 0.1])])
    log.resume()
    for t in np.arange(1800.0, 3600.0, 0.5):
        log.add_frame(float(t), [(1, (10, 10, 80, 80), [0, 0, 0, 0.1, 0.9, 0, 0])])
    df = log.to_frame()
    assert unanalysed(df) == [(1199.5, 1800.0)]
    figs = [charts.mix_area(binned_mix(df, 10, fill_gaps=True), unanalysed=unanalysed(df)),
            charts.face_timeline(face_binned(df, 10), unanalysed=unanalysed(df)),
            charts.attention_timeline(pd.DataFrame([att[:4]], columns=["looking", "eyes_closed", "yaw", "pitch"]),
                                      unanalysed=unanalysed(df))]
    for fig in figs:
        bands = [s for s in fig.layout.shapes if s.type == "rect"]
        assert [charts.clock_seconds([b.x0, b.x1]).tolist() for b in bands] == [[1199.5, 1800.0]]
        assert [a.text for a in fig.layout.annotations] == ["not analysed"]
    # The mix; one face at a time has no per-face timeline (the mix over time is that face's).
    assert build_html_report(log).count('"text":"not analysed"') == 1
    # A log of one stretch has nothing to shade.
    assert unanalysed(SessionLog.from_frame(df[df["time_s"] < 1200]).to_frame()) == []
    va = valence_arousal_timeline(df, 10)
    hole = va[(va.index > 1190) & (va.index < 1800)]
    assert len(hole) == 1 and hole.isna().all(axis=None)  # one break, not a line across
    assert va.notna().all(axis=1).sum() == 120 + 180
    assert attention_timeline(df, 10).empty  # no attention logged: nothing to break


def test_many_pauses_are_each_shaded_but_said_not_analysed_at_the_widest_only():
    """A session with a pause every few minutes (a flaky network) wrote "not analysed" once a band,
    twelve times over each other along the chart's foot: every band is shaded, the words stand at
    the widest few, in time order."""
    spans = [(60.0 * k, 60.0 * k + 12 + k) for k in range(1, 13)]  # the widest last
    import plotly.graph_objects as go

    fig = charts.shade_unanalysed(go.Figure(), spans)
    assert len([s for s in fig.layout.shapes if s.type == "rect"]) == 12
    notes = [a for a in fig.layout.annotations if a.text == charts.UNANALYSED_TEXT]
    assert len(notes) == charts.UNANALYSED_NOTES
    assert charts.clock_seconds([a.x for a in notes]).tolist() == [a for a, _ in spans[-charts.UNANALYSED_NOTES:]]


def test_a_video_analysed_in_parts_that_follow_on_is_not_shaded_between_them():
    """An hour of a video at 2 frames a second stops at 7,200 frames, at 59:59.5, and the page says
    to analyse the rest as a part of its own, from 1:00:00: every frame a run of the whole video
    would analyse was analysed, yet the charts shaded 59:59.5 to 1:00:00 "not analysed". A part
    from 1:00:01 leaves out the frame at 1:00:00.5, and that is shaded; so is a video part's gap
    read back from the CSV."""
    from fer_core.session import binned_mix, unanalysed

    p = [0, 0, 0, 0.9, 0, 0, 0.1]

    def part(start, end, step=0.5):
        log = SessionLog(source="video", start_s=start)
        for t in np.arange(start, end, step):
            log.add_frame(float(t), [(1, (10, 10, 80, 80), p)])
        return log

    df = SessionLog.join([part(0.0, 3600.0), part(3600.0, 5400.0)], source="video").to_frame()
    assert df.attrs["parts"] == ((0.0, 3599.5), (3600.0, 5399.5))
    assert unanalysed(df) == []
    fig = charts.mix_area(binned_mix(df, 30, fill_gaps=True), unanalysed=unanalysed(df))
    assert [a.text for a in fig.layout.annotations] == []
    gap = SessionLog.join([part(0.0, 3600.0), part(3601.0, 5400.0)], source="video")
    assert unanalysed(gap.to_frame()) == [(3599.5, 3601.0)]
    assert unanalysed(SessionLog.from_csv(gap.to_csv()).to_frame()) == [(3599.5, 3601.0)]
    # A 25 fps video at 2 frames a second: the frame at or after each half second, 0.48 and 0.52 s
    # apart; its parts (the second from 1:00) follow on.
    first, rest = SessionLog(source="video"), SessionLog(source="video", start_s=60.0)
    for k in range(240):
        (first if k < 120 else rest).add_frame(round(k * 0.5 + 0.02 * (k % 2), 2), [(1, (10, 10, 80, 80), p)])
    assert unanalysed(SessionLog.join([first, rest]).to_frame()) == []
    # A live log's streams are a pause whatever the rows' pace: a face seen every 30 s, 20 s stopped.
    live = SessionLog(source="live")
    for t in (0.0, 30.0, 60.0):
        live.add_frame(t, [(1, (10, 10, 80, 80), p)])
    live.resume()
    for t in (80.0, 110.0, 140.0):
        live.add_frame(t, [(2, (10, 10, 80, 80), p)])
    assert unanalysed(live.to_frame()) == [(60.0, 80.0)]


def test_a_report_of_forty_streams_sums_them_up():
    """A live class over a flaky network: 40 streams (some of 5 s, one pause of an hour). The report's
    summary listed every one of the 40 spans in one line of over 1,000 characters; it now gives the
    whole and the three longest times between the streams (all 39 are shaded on its charts)."""
    from fer_core.report import _fmt_time
    from fer_core.session import unanalysed

    log = SessionLog(source="live")
    t, longest = 0.0, None
    for k in range(40):
        if k:
            log.resume()
            pause = 3600.0 if k == 20 else 11.0 + k
            longest = (t, t + pause) if k == 20 else longest
            t += pause
        for _ in range(5 if k % 3 else 120):
            log.add_frame(t, [(1, (10, 10, 80, 80), [0, 0, 0, 0.9, 0, 0, 0.1])])
            t += 1.0
        t -= 1.0
    html = build_html_report(log)
    line = re.search(r"<li>Time analysed[^<]*</li>", html).group(0)
    assert line.startswith(f"<li>Time analysed: {_fmt_time(log.summary().analysed_s)}, in 40 streams (0:00.0 to "
                           f"{_fmt_time(t)}, the longest times between them ")
    assert f"{_fmt_time(longest[0])} to {_fmt_time(longest[1])}" in line and line.count(" to ") == 4
    assert len(unanalysed(log.to_frame())) == 39


def test_a_report_of_a_video_in_parts_that_follow_on_names_no_gaps_between_them():
    """A video analysed in 8 parts that follow on (the Video file page's parts of 7,200 frames):
    the report's summary gave "the longest times between them 4:59.5 to 5:00.0, ..." and "the gaps
    between them were not analysed", of half a second where no frame went unanalysed. A part left
    out is still named."""
    from tests.test_session import video_in_parts

    line = re.search(r"<li>Time analysed[^<]*</li>", build_html_report(video_in_parts(8))).group(0)
    assert line.endswith("in 8 parts of the video (0:00.0 to 39:59.5, each following on from the one before)</li>")
    line = re.search(r"<li>Time analysed[^<]*</li>", build_html_report(video_in_parts(9, skip=(4,)))).group(0)
    assert line.endswith("in 8 parts of the video (0:00.0 to 44:59.5, the longest times between them 19:59.5 to "
                         "25:00.0); the gaps between them were not analysed</li>")


def test_report_of_one_face_at_a_time_leaves_the_per_face_timeline_out_and_says_how_sure_the_model_was():
    """One person at their laptop, the stream stopped for lunch: the report drew a per-face timeline,
    rows "Face 1" and "Face 2" for one person, beside the mix over time that says the same, and no word
    on how sure the model was. A class's report keeps its per-face timeline."""
    from tests.test_compare import lecture, one_face_with_a_pause

    alone = build_html_report(one_face_with_a_pause("Neutral", "Sad", (30, 60, 30)))
    titles = re.findall(r'"title":\{"text":"([^"]+)"', alone)
    assert "Expression mix over time (10 s bins)" in titles and not any(t.startswith("Per-face") for t in titles)
    assert ("How sure the model was: its top expression had 100% probability on average, and under 50% in 0% of "
            "the observations") in alone
    assert "the top-label counts count each observation once" in alone
    assert "at most 1 face was in view at once" in alone  # its two face numbers still explained
    class_report = build_html_report(lecture(40, "Happy", "Neutral", faces=3))
    assert "Per-face timeline" in class_report and "How sure the model was" in class_report


def _plotly_blobs(html: str) -> list[bytes]:
    """The gzipped plotly.js of a report, unpacked: one per ``plotly-js-gzip`` element."""
    import base64
    import gzip

    return [gzip.decompress(base64.b64decode(m.group(1)))
            for m in re.finditer(r'<script type="application/octet-stream" id="plotly-js-gzip">([^<]*)</script>', html)]


def test_reports_carry_plotly_js_once_and_gzipped():
    """plotly.js went inline as it is: 4.8 MB of each report's 5-7.5 MB, too much to mail 40 of a
    term's lectures. It goes once, gzipped (2.0 MB in base64), and the browser unpacks it from the
    file itself: no script from the network, and no copy of it in the open."""
    from plotly.offline import get_plotlyjs

    from fer_core.report import build_comparison_report

    log = session_with_streak()
    library = get_plotlyjs().encode()
    for html in (build_html_report(log), build_comparison_report({"a": log.to_frame(), "b": log.to_frame()})):
        assert _plotly_blobs(html) == [library]
        assert "plotly.js v" not in html and len(html) < len(library) / 2
        assert not re.search(r"<script[^>]+src=", html) and "DecompressionStream" in html
        # Each chart is drawn when plotly.js has been unpacked: the loader comes before the first.
        assert html.index('id="plotly-js-gzip"') < html.index('class="plotly-graph-div"')
    assert 'id="plotly-js-gzip"' not in build_html_report(SessionLog())  # no charts, no library


def test_report_size_grows_far_slower_than_the_session():
    """One person's session at the dashboard's finest bins (1 s): 30 minutes made a 5.3 MB report,
    3 hours 7.8 MB, 10,800 points on each of the mix's 7 curves (2.9 MB), more than its 1100 px can
    show. The mix over time keeps to about a point a pixel (MAX_MIX_BINS; its title says the bin),
    so 6 times the session is a report of about the same size, under 3 MB."""
    from benchmarks.class_logs import class_log

    sizes, titles = [], []
    for minutes in (30, 180):
        html = build_html_report(class_log(1, minutes, 1, step_s=1.0), ReportOptions(bin_s=1.0))
        charts_part = re.sub(r'<script type="application/octet-stream".*?</script>', "", html, flags=re.S)
        sizes.append((len(html.encode()), len(charts_part.encode())))
        titles.append(re.findall(r'"title":\{"text":"(Expression mix over time[^"]*)"', html))
    (small, small_charts), (large, large_charts) = sizes
    assert large < 3_000_000 and large_charts < 1.5 * small_charts, sizes
    assert titles == [["Expression mix over time, 2 s bins (1 s: too many to draw)"],
                      ["Expression mix over time, 10 s bins (1 s: too many to draw)"]]
    from fer_core.report import MAX_MIX_BINS

    assert 180 * 60 / 10 <= MAX_MIX_BINS  # a 3-hour session's mix in the default 10 s bins keeps them


def plotly_tick_format(axis, dtick_ms: float) -> str:
    """The format plotly.js gives a date axis's ticks ``dtick_ms`` apart: the first of its
    ``tickformatstops`` whose ``dtickrange`` holds the step, both ends included (plotly.js's
    ``isProperStop``), else its ``tickformat``."""
    for stop in axis["tickformatstops"]:
        low, high = stop["dtickrange"]
        if (low is None or low <= dtick_ms) and (high is None or high >= dtick_ms):
            return stop["value"]
    return axis["tickformat"]


def test_time_axes_show_fractions_of_a_second_only_on_ticks_closer_than_a_second():
    """The Video file page's probabilities of a face seen for 6 s of a 12 s clip ticked every second,
    "0:00.000, 0:01.000, ...", while its other charts read "0:00": the stop for ticks up to a second
    apart included ticks exactly a second apart. Whole seconds read m:ss, ticks half a second apart
    tenths ("0:06.5"), closer ones milliseconds."""
    from fer_core.session import face_binned

    log = SessionLog(source="video")
    for t in np.arange(0.0, 12.0, 0.5):
        log.add_frame(float(t), [(1, (0, 0, 50, 50), [0.1, 0.0, 0.1, 0.5, 0.1, 0.1, 0.1])] if t >= 6 else [])
    axis = charts.face_probabilities(face_binned(log.to_frame(), 0.5), 1).layout.xaxis.to_plotly_json()
    assert [plotly_tick_format(axis, ms) for ms in (1000, 2000, 5000, 60000)] == ["%-M:%S"] * 4
    assert [plotly_tick_format(axis, ms) for ms in (500, 200, 100)] == ["%-M:%S.%1f"] * 3
    assert [plotly_tick_format(axis, ms) for ms in (50, 20, 10, 1)] == ["%-M:%S.%L"] * 4
    long = charts.clock_axis(0.0, 5400.0)
    assert plotly_tick_format(long, 1000) == "%-H:%M:%S" and plotly_tick_format(long, 500) == "%-H:%M:%S.%1f"
