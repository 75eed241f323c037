"""fer_core: facial-expression recognition on faces in images and video frames."""
from fer_core.labels import LABELS, NUM_CLASSES
