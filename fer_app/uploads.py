"""Upload limits of the pages, enforced twice: the browser refuses larger files (each
uploader's ``max_upload_size``) and :func:`within_limit` refuses them again on the server,
for clients that skip the browser's check. The server's hard cap for any request body is
``server.maxUploadSize`` in ``.streamlit/config.toml`` (the largest of these).

The limits also bound memory: an upload is held in memory while its page uses it, and a
request body passes through a few transient copies on its way in.
"""
from __future__ import annotations

import streamlit as st

from fer_app import support
from fer_core.session import MAX_UNPACKED_BYTES

#: Photos: a 48-megapixel JPEG is 10-25 MB.
PHOTO_MB = 50
#: Several photos at once (the Photo page's summary): at most this much together, since every
#: photo of a set stays in memory while the set is shown (each one is analysed alone).
PHOTO_SET_MB = 25
#: Videos: decoded from memory, never written to disk.
VIDEO_MB = 100
#: Session logs (CSV) for the dashboard and Compare sessions: about 400,000 face rows with
#: attention logged (130 bytes a row), 540,000 without (97 bytes). A 90-minute online class of 30
#: faces, logged live at 2 rows a face and second with attention, is 324,000 rows and 42 MB; at
#: 25 MB such logs were refused (tests/test_session.py).
LOG_MB = 50

MB = 1024 * 1024  # Streamlit's megabyte

#: Bytes a face row takes in a log's CSV, with attention logged and without (tests/test_session.py's
#: class_log: 126-129 and 93-96).
ROW_BYTES_ATTENTION, ROW_BYTES = 130, 97
#: What LOG_MB holds, said of a log whose pace is not known yet (see :func:`log_fits`).
LOG_FITS_CLASS = "about 2 hours of a class of 30"


def log_fits(rows: int, analysed_s: float, attention: bool, alone: bool = False) -> str:
    """How long a session logged as this one (``rows`` observations in ``analysed_s`` seconds analysed:
    ``SessionLog.analysed_s``, which the live page reads on each run without ``SessionLog.summary``'s
    count of the face numbers; ``attention`` logged or not) fills LOG_MB of CSV: "about 58 hours of a
    session logged as this one, one face at a time" (``alone``). The pages said "about 2 hours of a class
    of 30" of one person at their laptop, whose log lasts 30 times longer; that is still said of a log of
    under a minute."""
    if rows == 0 or analysed_s < 60.0:
        return LOG_FITS_CLASS
    hours = LOG_MB * MB / (ROW_BYTES_ATTENTION if attention else ROW_BYTES) / (rows / analysed_s) / 3600
    span = (f"{max(1, round(hours * 60))} minutes" if hours < 1 else f"{hours:.1f} hours" if hours < 3
            else f"{hours:,.0f} hours")
    return f"about {span} of a session logged as this one" + (", one face at a time" if alone else "")

#: The log uploaders take a log's CSV, or the CSV compressed: a full live log (a million observations)
#: is about 125 MB of CSV, 40 MB zipped (fer_core.session.unpack_log). Up to LOG_MB a file either
#: way, and compressed up to fer_core.session.MAX_UNPACKED_BYTES of CSV inside.
LOG_TYPES = ["csv", "csv.gz", "zip"]
#: What the log uploaders say of it.
LOG_HELP = (f"A CSV log as this app downloads it, or compressed: its **ZIP** download, the CSV zipped "
            "yourself (Windows: right-click, *Send to*, *Compressed (zipped) folder*; macOS: *Compress*) or "
            f"gzipped (.csv.gz). Up to {LOG_MB} MB a file; a compressed one may hold up to "
            f"{MAX_UNPACKED_BYTES // MB} MB of CSV, more than a full log (a million observations, about 125 MB "
            "of CSV, 40 MB zipped).")
#: What the error says of a CSV log over LOG_MB.
LOG_TOO_LARGE = (f"Compressed it fits: use the **ZIP** download of the log, or zip the CSV yourself (up to "
                 f"{MAX_UNPACKED_BYTES // MB} MB of CSV inside).")


def within_limit(upload, limit_mb: int, hint: str = "") -> bool:
    """True when ``upload`` (an ``UploadedFile``) is at most ``limit_mb`` MB; otherwise shows
    an error on the page, with ``hint`` after it, and returns False."""
    if upload.size <= limit_mb * MB:
        return True
    st.error(f"**{support.md_literal(upload.name)}** is {upload.size / MB:.0f} MB; this page accepts files of up to "
             f"{limit_mb} MB." + (f" {hint}" if hint else ""), icon=":material/block:")
    return False


def log_hint(upload) -> str:
    """What :func:`within_limit` adds for a session log over LOG_MB: a CSV is told how to send it
    compressed; a compressed one is not."""
    return "" if upload.name.lower().endswith((".gz", ".zip")) else LOG_TOO_LARGE
