"""The seven FER2013 expression classes, in the data set's own order."""

LABELS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
NUM_CLASSES = len(LABELS)
#: Expressions counted as "negative" by the class analytics.
NEGATIVE_LABELS: tuple[str, ...] = ("Angry", "Fear", "Sad")
