"""fer_core.model_card's words for the pages: split names, figure captions, how to read a per-class
table, and the per-class bars' legend (the pages themselves: tests/test_pages.py)."""
from __future__ import annotations

import pandas as pd

from fer_core import charts, model_card
from fer_core.labels import LABELS


def test_figures_are_captioned_in_words_and_unknown_names_are_kept():
    # The page captioned models/eval/confusion_realphoto_pipeline.png "confusion realphoto pipeline".
    assert model_card.figure_caption("models/eval/confusion_realphoto_pipeline.png") == (
        "Which expression is taken for which, on 13,672 real photos, as the app reads them (face found and cut out)")
    assert model_card.figure_caption("reliability_PrivateTest_unseen.png") == (
        "Confidence shown against how often it is right, on the test faces unlike any training face")
    assert model_card.figure_caption("confusion_MySplit.png") == "Which expression is taken for which, on MySplit"
    assert model_card.figure_caption("loss_curve.png") == "loss curve"
    assert model_card.figure_caption("confusion.png") == "confusion"
    assert model_card.split_words("PrivateTest") == "FER2013's test faces"
    assert model_card.split_words("whatever") == "whatever"


def test_a_per_class_table_is_read_aloud_on_its_largest_expression():
    table = model_card.per_class_table({"per_class": {
        "Happy": {"precision": 0.899, "recall": 0.891, "f1": 0.895, "support": 879},
        "Fear": {"precision": 0.725, "recall": 0.379, "f1": 0.498, "support": 528}}})
    assert model_card.per_class_reading(table) == (
        "How to read a row: of the 879 Happy faces, the model named 89% Happy; of the faces it named Happy, "
        "90% were.")
    # A fine-tuned model's card has recall and support only: nothing to say of precision.
    assert model_card.per_class_reading(model_card.per_class_table({"per_class": {"Sad": 0.5}})) is None
    assert model_card.per_class_reading(None) is None


def test_per_class_bars_name_their_legend_in_words_in_the_order_given():
    table = pd.DataFrame({"precision": [0.5] * 7, "recall": [0.4] * 7, "f1": [0.45] * 7, "support": [10] * 7},
                         index=list(LABELS))
    names = {c: label for c, (label, _) in model_card.PER_CLASS_COLUMNS.items()}
    fig = charts.per_class_bars(table, "Per expression", names=names)
    assert [t.name for t in fig.data] == ["found", "right when named", "both together"]  # no bar of counts
    assert [t.name for t in charts.per_class_bars(table).data] == ["precision", "recall", "f1"]
