"""End-of-session report: one self-contained HTML file (plotly.js inlined, gzipped, no network)."""
from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import plotly.graph_objects as go

from fer_core import charts, textcut
from fer_core.compare import (
    LOOKING,
    NEGATIVE,
    VALENCE,
    compare_sessions,
    damage_note,
    measure_over_time,
    models_note,
    table_for_display,
)
from fer_core.engagement import (
    EYES_CLOSED_S,
    LOOK_AWAY_S,
    attention_summary,
    attention_table,
    attention_timeline,
    has_attention,
    valence_arousal_timeline,
)
from fer_core.labels import LABELS, NEGATIVE_LABELS
from fer_core.session import (
    LEAD_S,
    NOTABLE_CHANGE,
    NegativeStreak,
    SessionLog,
    SessionSummary,
    binned_mix,
    changes_table,
    confidence_note,
    current_mix,
    damage_text,
    expression_mix,
    face_binned,
    label_counts,
    length_text,
    log_end,
    log_start,
    markers_table,
    most_in_view,
    negative_streaks,
    parts_text,
    strongest_changes,
    unanalysed,
)

RESPONSIBLE_USE = (
    "Expression recognition estimates how a face looks, not what a person feels. "
    "Faces were processed in memory and not stored; this report holds only anonymous face "
    "numbers, boxes and probabilities. Use it only with the consent of everyone recorded. "
    "In the EU, inferring the emotions of students or employees in education institutions and "
    "workplaces is prohibited by the AI Act, Article 5(1)(f), except for medical or safety reasons."
)


@dataclass(frozen=True)
class ReportOptions:
    title: str = "Expression session report"
    source: str = ""  # e.g. "Live webcam" or the video's file name
    bin_s: float = 10.0
    negative_minutes: float = 2.0
    changes: int = 5
    look_away_s: float = LOOK_AWAY_S  # attention flags (when the session measured attention)
    eyes_closed_s: float = EYES_CLOSED_S
    #: The reader's time zone (IANA name: the browser's, ``st.context.timezone``) for the report's
    #: dates; the server's clock is UTC, an hour or more off a European or American class's.
    timezone: str = "UTC"


def _zone(name: str) -> tzinfo:
    """The time zone named ``name``; UTC for an empty or unknown name (a folder of the zone
    database, "Europe", is an OSError, as is a name too long for a file)."""
    try:
        return ZoneInfo(name) if name and name != "UTC" else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def known_timezone(name: str) -> bool:
    """Whether ``name`` is a time zone of the zone database ("Europe/Berlin", "UTC")."""
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def local_timezone() -> str:
    """The IANA name of this computer's time zone, for reports made on it (the batch tool's): the
    ``TZ`` variable's when it names one, else the zone file ``/etc/localtime`` links to (Linux, macOS),
    else ``/etc/timezone`` (Debian); "UTC" when none says (Windows, a container without one)."""
    import os

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as f:
            candidates.append(f.read().strip())
    except (OSError, UnicodeDecodeError):
        pass
    for name in candidates:
        name = name.removeprefix("posix/").removeprefix("right/")
        if known_timezone(name):
            return "UTC" if name.removeprefix("Etc/") in ("UTC", "UCT", "Universal", "Zulu") else name
    return "UTC"


def _when(moment: datetime, zone_name: str = "UTC") -> str:
    """``moment`` to the minute in the zone ``zone_name``, which it names: "2026-12-07 09:00 Europe/Berlin".
    In the hour that the clocks go back, which comes twice, with its offset from UTC: "2026-10-25
    02:30 Europe/Berlin (UTC+02:00)", then "(UTC+01:00)". (A session started at the first 02:30 and
    reported at the second 02:15 read as reported before it started.)"""
    zone = _zone(zone_name)
    local = moment.astimezone(zone)
    offset = _repeated_offset(local, ":")
    if offset:
        return f"{local:%Y-%m-%d %H:%M} {zone_name} (UTC{offset})"
    return f"{local:%Y-%m-%d %H:%M} {'UTC' if zone is UTC else zone_name}"


def _repeated_offset(local: datetime, colon: str = "") -> str:
    """``local``'s offset from UTC, "+01:00" (``colon`` ":") or "+0100", if its wall-clock time comes
    twice (the hour that the clocks go back); "" otherwise."""
    offset = local.utcoffset()
    if offset is None or local.replace(fold=1 - local.fold).utcoffset() == offset:
        return ""
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = "+-"[minutes < 0], abs(minutes)
    return f"{sign}{minutes // 60:02d}{colon}{minutes % 60:02d}"


def _stamp(log: SessionLog, options: ReportOptions) -> str:
    """When the session started (a live one) or was analysed (a video), to the minute in the
    reader's zone: "2026-12-07 09:00"; "" for a log read back from a CSV, which does not say. In the
    hour that the clocks go back, with its offset from UTC, "2026-10-25 01:30 UTC+0100", then
    "UTC+0000" (the two sessions' downloads had one name, the second saved as "... (1).html")."""
    if log.started_at is None:
        return ""
    local = log.started_at.astimezone(_zone(options.timezone))
    offset = _repeated_offset(local)
    return f"{local:%Y-%m-%d %H:%M}" + (f" UTC{offset}" if offset else "")


def report_title(log: SessionLog, options: ReportOptions = ReportOptions()) -> str:
    """The report's document title, which a browser offers as the name of the PDF it saves and
    shows on the tab: the title, the source and the date with its zone, as the report's header says it,
    "Expression session report: lecture.mp4, 2026-12-07 09:00 Europe/Berlin". (It was the title
    alone: every report saved as "Expression session report.pdf". Then the date without its zone:
    the batch jobs' reports, in UTC, read as if in the reader's time.)"""
    when = _when(log.started_at, options.timezone) if log.started_at is not None else ""
    details = [d for d in (options.source or log.source, when) if d]
    return f"{options.title}: {', '.join(details)}" if details else options.title


def session_filename(log: SessionLog, options: ReportOptions = ReportOptions(), what: str = "report",
                     ext: str = "html") -> str:
    """A file name for a session's downloads that tells one session's from another's: the
    source's name (a video's or a log's without its extension, "live" for the webcam), what it
    is and the date: "lecture_report_2026-12-07_0900.html", "lecture_log_2026-12-07_0900.csv"
    ("..._2026-10-25_0130_UTC+0100.html" in the hour that comes twice). A name with no letter or
    digit (only emoji or punctuation, "😀😀.mp4") gives "session": "session_report_2026-12-07_0900.html".
    (Every report downloaded as "session_report.html", a second one as "session_report (1).html".)"""
    source = "live" if log.source == "live" else options.source or log.source
    # NFC: a name from macOS comes with its accents apart ("e" and U+0301), which are no \w.
    source = unicodedata.normalize("NFC", source)
    stem = re.sub(r"(\.csv)?\.[A-Za-z0-9]{1,4}$", "", source.split(", ")[0])  # "week 1.csv.gz": "week 1"
    # Letters and digits whole, with the marks that belong to them (Hindi's and Thai's vowel signs),
    # "_" and "-". A mark goes with its letter: an emoji's variation selector ("☀️", a mark) or a stray
    # accent stayed alone in the name, invisible, where the emoji became a "_".
    stem = "_".join("".join(letter if any(c.isalnum() for c in letter) or letter in ("_", "-") else " "
                            for letter in textcut.letters(stem)).split())
    stem = textcut.head_bytes(textcut.head(stem.strip("_"), 60), 150).lstrip("-") or "session"
    stamp = _stamp(log, options).replace(" ", "_").replace(":", "")
    return f"{stem}_{what}{'_' + stamp if stamp else ''}.{ext}"


def _fmt_time(seconds: float) -> str:
    """``m:ss.s`` (``h:mm:ss.s`` from an hour on): the tenths cut off as the pages'
    :func:`~fer_core.session.format_time` cuts the seconds, so that 59.96 s reads 0:59.9 here and
    0:59 there. (The seconds were once rounded alone, after the split: 59.96 s read "0:60.0".)"""
    tenths = math.floor(max(0.0, float(seconds)) * 10 + 1e-6)
    m, rest = divmod(tenths, 600)
    h, m = divmod(m, 60)
    sec = f"{rest // 10:02d}.{rest % 10}"
    return f"{h:d}:{m:02d}:{sec}" if h else f"{m:d}:{sec}"


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    return df.to_html(index=False, border=0, classes="tbl", escape=True, na_rep="",
                      float_format=lambda v: f"{v:.{digits}f}")


def _header(log: SessionLog, options: ReportOptions, df: pd.DataFrame) -> list[str]:
    """Title, source and dates, the responsible-use notice and the summary list (``df``: the log's
    rows, for the most faces in view at once)."""
    summary = log.summary()
    # Face numbers, not people (as the dashboard says beside its count): a class of 25 who leave and
    # come back, each time under a new number, read "Distinct anonymous faces: 57" without a word.
    in_view = most_in_view(df)
    esc = html.escape
    return [f"<h1>{esc(options.title)}</h1>",
            f"<p class='meta'>Source: {esc(options.source or log.source or 'unknown')} &middot; "
            f"generated {esc(_when(datetime.now(UTC), options.timezone))}"
            + (f" &middot; {'session started' if log.source == 'live' else 'analysed'} "
               f"{esc(_when(log.started_at, options.timezone))}" if log.started_at is not None else "")
            + (f" &middot; expression model: {esc(', then '.join(log.models))}" if log.models else "") + "</p>",
            f"<p class='notice'>{esc(RESPONSIBLE_USE)}</p>",
            "<h2>Summary</h2>",
            "<ul>"
            + _covered(summary, live=log.streams, gaps=unanalysed(df)) +
            f"<li>Frames analysed: {summary.frames}</li>"
            f"<li>Face observations: {summary.rows}</li>"
            f"<li>Anonymous faces: {summary.faces}"
            + (" (a face that leaves the picture and comes back gets a new one"
               + (", and so does a face after the stream stopped" if log.streams else "")
               + f", so this counts more than the people: at most {in_view} "
               f"{'face was' if in_view == 1 else 'faces were'} in view at once)" if summary.faces > in_view else "")
            + "</li>"
            + ("<li><b>The log reached its size limit; later rows were not recorded.</b></li>"
               if summary.truncated else "")
            + (f"<li><b>The video is damaged</b>: "
               f"{esc(damage_text(log.damaged, summary.end_s, _fmt_time, cut_short=log.cut_short))}; the "
               "charts shade it as not analysed</li>" if log.damaged else "") + "</ul>"]


def _covered(summary: SessionSummary, live: bool = False, gaps: Sequence[tuple[float, float]] = ()) -> str:
    """The summary's line on the time covered: a part of a video says which; a log joined from
    parts, or a ``live`` session streamed several times, counts only their time, not the gaps
    between them (``gaps``: :func:`~fer_core.session.unanalysed`; none for parts that follow on)."""
    if summary.parts:
        spans = parts_text(summary.parts, _fmt_time, gaps=gaps)
        if live:
            n = len(summary.parts)
            return (f"<li>Time analysed: {_fmt_time(summary.analysed_s)}, in {n} stream{'s' if n > 1 else ''} "
                    f"({spans}); the session ran {_fmt_time(summary.duration_s)}, the rest with the "
                    "stream stopped or without a picture"
                    # How long before: "its clock started at 0:00.0" said what every live clock does.
                    + (f" (its clock started with a moment named {_fmt_time(summary.parts[0][0] - summary.start_s)} "
                       "before the first stream)" if summary.parts[0][0] > summary.start_s + LEAD_S else "") + "</li>")
        if len(summary.parts) == 1:  # a video whose start could not be decoded (SessionLog.damaged says so)
            [(a, b)] = summary.parts
            return (f"<li>Time analysed: {_fmt_time(summary.analysed_s)} (the video from {_fmt_time(a)} to "
                    f"{_fmt_time(b)})</li>")
        return (f"<li>Time analysed: {_fmt_time(summary.analysed_s)}, in {len(summary.parts)} parts of the "
                f"video ({spans})" + ("; the gaps between them were not analysed" if gaps else "") + "</li>")
    return (f"<li>Duration covered: {_fmt_time(summary.duration_s)}"
            + (f" (the video from {_fmt_time(summary.start_s)} to {_fmt_time(summary.end_s)})"
               if summary.start_s > 0 else "") + "</li>")


def _mix_table(df: pd.DataFrame, overall: pd.Series) -> str:
    """Per expression: mean probability, over the last 10 s, and how often it was the top label."""
    counts = label_counts(df)
    recent = current_mix(df, 10.0)
    return _table(pd.DataFrame({"expression": list(LABELS),
                                "mean probability": [overall[lab] for lab in LABELS],
                                "last 10 s": [recent[lab] for lab in LABELS],
                                "top-label count": [int(counts[lab]) for lab in LABELS]}))


def _flags_section(streaks: list[NegativeStreak], options: ReportOptions) -> str:
    """The faces that stayed in a negative expression for ``options.negative_minutes`` or longer."""
    flags = f"<h2>Negative-expression flags (&ge; {options.negative_minutes:g} min of " \
            f"{html.escape(' / '.join(NEGATIVE_LABELS).lower())})</h2>"
    if not streaks:
        return flags + "<p>No face stayed in a negative expression that long.</p>"
    return flags + _table(pd.DataFrame([{"face": f"Face {s.face_id}", "from": _fmt_time(s.start_s),
                                         "to": _fmt_time(s.end_s),
                                         "length": length_text(s.duration_s),
                                         "expressions": ", ".join(s.labels),
                                         "still going": "yes" if s.ongoing else "no"} for s in streaks]))


def _changes_section(changes: pd.DataFrame) -> list[str]:
    """The moments where a face's expression mix moved most between neighbouring bins."""
    parts = ["<h2>Moments of strongest change</h2>"]
    if changes.empty:
        parts.append(f"<p>No notable change (no face's expressions moved by {NOTABLE_CHANGE:.0%} "
                     "or more between neighbouring time bins).</p>")
    else:
        shown = changes_table(changes)
        shown.insert(0, "time", changes["time_s"].map(_fmt_time))
        shown["change"] = shown["change"].map(lambda c: f"{c:.0%}")
        parts.append("<p>The top expression of the face before and after, with its share (when it stays the "
                     "same, with the other expression that moved most); change: how much of its expression mix "
                     "moved (0% = none, 100% = all).</p>")
        parts.append(_table(shown))
    return parts


ATTENTION_NOTE = (
    "Attention here means where a head points and whether the eyes are open, measured from the "
    "image: not learning, interest or understanding. Someone can look at the camera and think of "
    "something else, or look down at notes and follow closely."
)
VALENCE_NOTE = (
    "Valence and arousal are derived from the seven expression probabilities (each expression's "
    "place in Russell & Mehrabian's 1977 ratings, weighted by its probability), not measured by "
    "a separate model."
)


def _attention_section(df: pd.DataFrame, options: ReportOptions) -> list[str]:
    """Per-face attention table and flags, when the session measured attention."""
    summary = attention_summary(df, away_s=options.look_away_s, closed_s=options.eyes_closed_s)
    parts = ["<h2>Attention (head pose and eyes)</h2>", f"<p class='notice'>{html.escape(ATTENTION_NOTE)}</p>",
             _table(attention_table(summary), digits=1)]  # its figures are rounded to the tenth
    flagged = [f"<li>Face {s.face_id}: "
               + ", ".join(x for x, on in ((f"looked away for {s.longest_away_s:.0f} s", s.looked_away),
                                           (f"eyes closed for {s.longest_closed_s:.0f} s", s.eyes_closed)) if on)
               + "</li>" for s in summary if s.looked_away or s.eyes_closed]
    parts.append(f"<p>Flags (looked away &ge; {options.look_away_s:g} s, eyes closed &ge; "
                 f"{options.eyes_closed_s:g} s): " + (f"</p><ul>{''.join(flagged)}</ul>" if flagged else "none.</p>"))
    return parts


#: plotly.js's settings for the report's charts. Its tool bar otherwise has a "Share chart..."
#: button that uploads the chart, the anonymous faces' timelines included, to Plotly's cloud;
#: the app's charts (Streamlit's plotly.js) never show it.
CHART_CONFIG = {"displaylogo": False, "showSendToCloud": False}

#: Under the charts' heading: a report opened where scripts do not run (a mail client's preview,
#: a locked-down browser) showed empty boxes without a word; the tables are there all the same.
NO_SCRIPT = ("<noscript><p><b>The charts need JavaScript, which is off here; the tables hold the "
             "figures.</b></p></noscript>")


#: Where a browser cannot unpack plotly.js (one older than DecompressionStream: Safari before 16.4,
#: Firefox before 113, Chrome before 80), in each chart's box.
NO_DECOMPRESSION = ("This browser is too old to draw the charts (it cannot unpack their library); "
                    "the tables hold the figures, and a current browser shows the charts.")


@functools.cache
def plotly_js_gzip() -> str:
    """The plotly.js of the installed plotly package, gzipped and in base64, once per process.
    plotly.js is 4.8 MB of the report's 5-7.5 MB (the charts' own data 0.1-0.8 MB); gzipped it is
    1.5 MB, 2.0 MB in base64. Deterministic (no time stamp in the gzip header)."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 6, mtime=0)).decode("ascii")


#: Unpacks :func:`plotly_js_gzip` in the browser, with no network (its own bytes, no fetch), then
#: runs it and draws the charts. Until then, ``Plotly.newPlot`` (each chart's script, as
#: plotly's ``to_html`` writes it) only queues the chart.
PLOTLY_LOADER = """<script type="application/octet-stream" id="plotly-js-gzip">{data}</script>
<script>
window.PlotlyConfig = {{MathJaxConfig: 'local'}};
(function () {{
  var queue = [], failed = false;
  function refuse(div) {{
    var d = typeof div === "string" ? document.getElementById(div) : div;
    if (d) {{ var p = document.createElement("p"); p.className = "no-charts"; p.textContent = {message};
             d.innerHTML = ""; d.appendChild(p); d.style.height = "auto"; }}
  }}
  window.Plotly = {{newPlot: function (div) {{
    if (failed) refuse(div); else queue.push(arguments);
    return Promise.resolve(div);
  }}}};
  function fail() {{ failed = true; queue.forEach(function (a) {{ refuse(a[0]); }}); queue = []; }}
  try {{
    var text = atob(document.getElementById("plotly-js-gzip").textContent.trim());
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    var unpacked = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    new Response(unpacked).text().then(function (code) {{
      var s = document.createElement("script");
      s.textContent = code;
      document.head.appendChild(s);  // runs now, and sets window.Plotly to plotly.js
      if (!window.Plotly || !window.Plotly.relayout) return fail();
      var waiting = queue; queue = [];
      waiting.forEach(function (a) {{ window.Plotly.newPlot.apply(window.Plotly, a); }});
    }}).catch(fail);
  }} catch (e) {{ fail(); }}
}})();
</script>"""


def _charts_html(figures: list[go.Figure], intro: str = "") -> list[str]:
    """The charts under a heading of their own: they came after the last table's heading
    ("Marked moments", "Attention"), where a screen reader's list of headings placed them.
    ``intro``: HTML between the heading and the charts. plotly.js goes once, gzipped
    (:data:`PLOTLY_LOADER`), so the file works offline: inlined as it is, it was 4.8 MB of each report."""
    if not figures:
        return []
    loader = PLOTLY_LOADER.format(data=plotly_js_gzip(), message=json.dumps(NO_DECOMPRESSION))
    return ["<h2>Charts</h2>", NO_SCRIPT, *([intro] if intro else []), loader,
            *(fig.to_html(full_html=False, include_plotlyjs=False, config=CHART_CONFIG) for fig in figures)]


#: The charts' width on paper, in CSS px: within an A4 or Letter page's printable width at the
#: browser's default margins (718 px on A4).
PRINT_CHART_PX = 680

#: The charts' greatest height on paper, in CSS px: within a Letter page's printable height at
#: the browser's default margins (980 px; an A4 page's is 1047 px).
PRINT_CHART_MAX_PX = 940

#: Printed or saved as PDF, the charts kept the width the screen gave them (1100 px in a laptop's
#: window), wider than the page, and the browser shrank the whole report to fit, text and all (to
#: 71 %, 4 A4 pages instead of 6). Drawn at :data:`PRINT_CHART_PX` for the printout, and back at the
#: window's width after it. A chart taller than a page (the per-face timeline of 57 faces, 1176 px)
#: ran onto the next, its time axis and legend alone there: on paper it is drawn
#: :data:`PRINT_CHART_MAX_PX` high, its rows closer, and at its own height after.
PRINT_SCRIPT = f"""<script>
(function () {{
  function each(f) {{ if (window.Plotly) document.querySelectorAll(".js-plotly-plot").forEach(f); }}
  // The height goes to the chart's box too, which keeps its own otherwise (and the page breaks on it).
  function fit(d, width, height, tick) {{
    d.style.height = height + "px";
    Plotly.relayout(d, {{width: width, height: height, "yaxis.tickfont.size": tick}});
  }}
  window.addEventListener("beforeprint", function () {{
    each(function (d) {{
      if (!("screenHeight" in d.dataset))  // its own, once
        d.dataset.screenHeight = d.layout.height || d.getBoundingClientRect().height;
      var tall = d.dataset.screenHeight > {PRINT_CHART_MAX_PX};  // the per-face timeline: its rows' names smaller
      fit(d, {PRINT_CHART_PX}, tall ? {PRINT_CHART_MAX_PX} : d.dataset.screenHeight, tall ? 10 : null);
    }});
  }});
  window.addEventListener("afterprint", function () {{
    each(function (d) {{ fit(d, null, d.dataset.screenHeight, null); }});
  }});
}})();
</script>"""


def _page(title: str, body: str) -> str:
    """A standalone HTML document around ``body``, with the report's styles. Phone-wide: laid out
    at the screen's width (without the viewport line a phone drew the page 980 to 1400 px wide,
    shrunk to a third), a table wider than the screen scrolls in its own box. On paper (the print
    styles): a table is whole, not cut at the page's edge in its scrolling box (the comparison's
    lost its last 8 columns), a chart is not split between two pages nor a heading left at the
    foot of one, and the charts' tool bars are left out."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
.meta {{ color: #666; }}
.notice {{ background: #fff8e1; border-left: 4px solid #f0b400; padding: .6em 1em; }}
table.tbl {{ border-collapse: collapse; margin: .5em 0 1.5em; display: block; overflow-x: auto; max-width: 100%; }}
table.tbl th, table.tbl td {{ padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: right; }}
@media print {{
  body {{ max-width: none; margin: 0; padding: 0; }}
  h1, h2, h2 + .meta {{ break-after: avoid; }}
  table.tbl {{ display: table; overflow: visible; font-size: 90%; }}
  table.tbl th, table.tbl td {{ padding: .2em .5em; }}
  table.tbl tr, .plotly-graph-div {{ break-inside: avoid; }}
  .modebar-container {{ display: none !important; }}
}}
</style></head>
<body>
{body}
{PRINT_SCRIPT}
</body></html>
"""


#: The report's mix over time has at most this many time bins, a coarser round bin than the
#: chosen one past them (:func:`fer_core.charts.timeline_bin`): about one a pixel of its width on
#: the report's page (1100 px). A 3-hour session in 1 s bins was 10,800 points on each of 7
#: curves, 2.9 MB of the report's 7.8 MB; a 90-minute one in 10 s bins (540) keeps its bins.
MAX_MIX_BINS = 1200


def build_html_report(log: SessionLog, options: ReportOptions = ReportOptions()) -> str:
    """The whole report as one HTML string: summary, mix, charts, flags, changes."""
    df = log.to_frame()
    parts = _header(log, options, df)
    figures: list[go.Figure] = []
    tail: list[str] = []
    if df.empty:
        parts.append("<p><b>No faces were found in this session.</b></p>")
    else:
        overall = expression_mix(df)
        sure = confidence_note(df, "the top-label counts")
        parts += ["<h2>Expression mix</h2>", _mix_table(df, overall), f"<p>{html.escape(sure)}</p>"]
        changes = strongest_changes(df, options.changes, bin_s=options.bin_s, min_change=NOTABLE_CHANGE)
        markers, gaps = log.markers, unanalysed(df)
        if markers:
            parts += ["<h2>Marked moments</h2>", _table(markers_table(markers), digits=1)]
        figures.append(charts.mix_bars(overall, "Expression mix, whole session"))
        span_s = log_end(df) - log_start(df)
        mix_s = charts.timeline_bin(options.bin_s, span_s, most=MAX_MIX_BINS)
        title = "Expression mix over time" + (f" ({options.bin_s:g} s bins)" if mix_s == options.bin_s else "")
        figures.append(charts.mix_area(binned_mix(df, mix_s, fill_gaps=True), changes,
                                       charts.timeline_title(mix_s, options.bin_s, title), markers=markers,
                                       unanalysed=gaps))
        timeline_s = charts.timeline_bin(options.bin_s, span_s)
        if most_in_view(df) > 1:  # one face at a time: the mix over time is its timeline (app_pages/dashboard.py)
            figures.append(charts.face_timeline(face_binned(df, timeline_s),
                                                charts.timeline_title(timeline_s, options.bin_s), markers=markers,
                                                unanalysed=gaps))
        # A mark per bin, as the per-face timeline: in as few bins (a 3-hour session in 1 s bins
        # was 10,800 marks on each).
        if has_attention(df):
            parts += _attention_section(df, options)
            title = "Attention over time" + (f" ({options.bin_s:g} s bins)" if timeline_s == options.bin_s else "")
            figures.append(charts.attention_timeline(attention_timeline(df, timeline_s),
                                                     charts.timeline_title(timeline_s, options.bin_s, title),
                                                     markers=markers, unanalysed=gaps))
        figures.append(charts.valence_arousal_path(valence_arousal_timeline(df, timeline_s), charts.timeline_title(
            timeline_s, options.bin_s, "Valence and arousal over the session (derived)")))
        streaks = negative_streaks(df, options.negative_minutes * 60.0, bin_s=min(options.bin_s, 5.0))
        tail.append(_flags_section(streaks, options))
        tail += _changes_section(changes)
    charts_html = _charts_html(figures, f"<p class='meta'>{html.escape(VALENCE_NOTE)}</p>")
    return _page(report_title(log, options), "\n".join(parts + charts_html + tail))


COMPARISON_NOTE = (
    "Shares are mean probabilities over every face observation of a session, in per cent; a face seen "
    "for longer weighs more. Sessions recorded with different cameras, lighting or expression models "
    "are not strictly comparable."
)


#: The curves of the comparison report (looking at the camera only when some session measured it).
COMPARISON_MEASURES = ("Happy", NEGATIVE, VALENCE, LOOKING)


def build_comparison_report(sessions: Mapping[str, pd.DataFrame], *, segments: int = 10,
                            title: str = "Session comparison", timezone: str = "UTC") -> str:
    """Several sessions side by side as one HTML string: the table of
    :func:`fer_core.compare.compare_sessions`, the mix per session, and curves over the per cent
    of each session elapsed for :data:`COMPARISON_MEASURES`; which model analysed which session
    when they differ (:func:`fer_core.compare.models_note`), and what of a damaged video could not be
    decoded (:func:`fer_core.compare.damage_note`)."""
    curves = {m: measure_over_time(sessions, m, segments=segments) for m in COMPARISON_MEASURES}
    return comparison_report_html(compare_sessions(sessions), curves, title=title, note=models_note(sessions),
                                  damage=damage_note(sessions), timezone=timezone)


def comparison_report_html(comparison: pd.DataFrame, curves: Mapping[str, pd.DataFrame],
                           title: str = "Session comparison", note: str = "", timezone: str = "UTC",
                           damage: str = "") -> str:
    """The comparison report from its parts: ``compare_sessions``' table and, per measure,
    ``measure_over_time``'s curves (a measure whose curves are all empty is left out); ``note`` and
    ``damage``: ``models_note``'s and ``damage_note``'s sentences, said above the table. For
    callers that summarise one session at a time (``fer_core.batch``), so that only one
    session's rows are in memory at once."""
    esc = html.escape
    figures = [charts.session_mix_bars(comparison)]
    figures += [charts.session_curves(c, m) for m, c in curves.items() if c.notna().any().any()]
    table = table_for_display(comparison, lengths=True)
    table["valence"] = table["valence"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}")
    parts = [f"<h1>{esc(title)}</h1>",
             f"<p class='meta'>{len(comparison)} sessions: {esc(', '.join(map(str, comparison.index)))} &middot; "
             f"generated {esc(_when(datetime.now(UTC), timezone))}</p>",
             f"<p class='notice'>{esc(RESPONSIBLE_USE)}</p>",
             *([f"<p class='notice'>{esc(text)}</p>" for text in (note, damage) if text]),
             "<h2>Sessions</h2>", _table(table, digits=1),
             f"<p class='meta'>{esc(COMPARISON_NOTE)} {esc(VALENCE_NOTE)}</p>"]
    return _page(title, "\n".join(parts + _charts_html(figures)))
