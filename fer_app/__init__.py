"""The Streamlit app's own modules: ``support`` (the cached recognizer, per-session state,
ICE configuration, the notices every page repeats) and ``webrtc_shim`` (the one module that
touches streamlit-webrtc internals). The pages live in ``app_pages/``, the entry point is
``streamlit_app.py``; compute lives in ``fer_core``.
"""
