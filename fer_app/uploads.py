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


def within_limit(upload, limit_mb: int) -> bool:
    """True when ``upload`` (an ``UploadedFile``) is at most ``limit_mb`` MB; otherwise shows
    an error on the page and returns False."""
    if upload.size <= limit_mb * MB:
        return True
    st.error(f"**{support.md_literal(upload.name)}** is {upload.size / MB:.0f} MB; this page accepts files of up to "
             f"{limit_mb} MB.", icon=":material/block:")
    return False
