"""Entry point: ``streamlit run streamlit_app.py``.

Configures logging (only here), declares the pages, puts the expression-model choice in the
sidebar and runs the selected page. Each expression model is loaded once per process
(``fer_app.support.get_recognizer``).
"""
import logging

import streamlit as st

from fer_app import support

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("fer_core").setLevel(logging.INFO)
# Both log each live stream's ICE candidates, the browser's IP addresses, at INFO.
for name in ("aioice", "streamlit_webrtc"):
    logging.getLogger(name).setLevel(logging.WARNING)
support.process_setup()  # once per process: allocator settings, the reaper of closed tabs' sessions

st.set_page_config(page_title="Facial expressions", page_icon=":performing_arts:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True, url_path="home"),
    st.Page("app_pages/live_webcam.py", title="Live webcam", icon=":material/videocam:",
            url_path=support.LIVE_PAGE),
    st.Page("app_pages/photo.py", title="Photo", icon=":material/photo_camera:", url_path="photo"),
    st.Page("app_pages/video_file.py", title="Video file", icon=":material/movie:", url_path="video"),
    st.Page("app_pages/dashboard.py", title="Class dashboard", icon=":material/monitoring:",
            url_path="dashboard"),
    st.Page("app_pages/compare.py", title="Compare sessions", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("app_pages/model_card.py", title="Model", icon=":material/model_training:", url_path="model"),
]

page = st.navigation(PAGES)
support.model_choice_control()
support.take_cut_video()  # before the guard below and the page: a video analysis cut short by this run's click
support.unsaved_guard()  # the browser asks before closing the tab while a session log is held
support.note_page(page.url_path)
page.run()
