"""fer_core: facial-expression recognition on faces in images and video frames.

Public API::

    from fer_core import LABELS, load_recognizer
    rec = load_recognizer()              # the shipped model
    rec.predict_proba(faces)             # (N, 7) probabilities, FER2013 order
    rec.analyze(image_bgr)               # list of FaceResult(box, probabilities, label, ...)
"""
from fer_core.labels import LABELS, NEGATIVE_LABELS, NUM_CLASSES
from fer_core.preprocess import preprocess_face
from fer_core.recognizer import FaceResult, Recognizer, load_recognizer

__all__ = ["LABELS", "NEGATIVE_LABELS", "NUM_CLASSES", "FaceResult", "Recognizer",
           "load_recognizer", "preprocess_face"]
