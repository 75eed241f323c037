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

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    """A small generated FER2013-style CSV (all three splits), made once per test module."""
    from training.synthetic import write_fer_csv

    path = tmp_path_factory.mktemp("data") / "tiny.csv.gz"
    write_fer_csv(path, {"Training": 140, "PublicTest": 35, "PrivateTest": 35}, seed=3)
    return path
