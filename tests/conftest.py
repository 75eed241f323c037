"""Suite-wide set-up.

TensorFlow (imported by the training tests) and pylibsrtp (aiortc's SRTP binding, used by
streamlit-webrtc) both carry OpenSSL symbols; importing pylibsrtp *after* TensorFlow in one
process segfaults (seen with tensorflow 2.21 + pylibsrtp on Linux x86_64), the other order
works. Import it first so app and training tests can share one pytest process.
"""
try:
    import pylibsrtp  # noqa: F401
except ImportError:  # the app's WebRTC extras are not installed: nothing to order
    pass
