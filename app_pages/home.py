"""Home: what the app does and does not do, the measured accuracy, responsible use."""
import streamlit as st

from fer_app import support
from fer_core import model_card

st.title("Facial expression recognition")
st.markdown(
    """
This app finds faces in a picture or video and estimates which of seven expressions each
face shows: **angry, disgust, fear, happy, sad, surprise, neutral** (the classes of FER2013, the
research set of faces the model learned from), with a confidence for each.

**Where to start.** No camera needed: open **Photo** and upload any photo with faces, or **Video
file** for a recording of a lesson or call. **Live webcam** needs a camera (and the app opened over
https). The **Class dashboard** and **Compare sessions** then show what those pages analysed, or the
logs they let you download.

| Page | What it does |
|---|---|
| **Live webcam** | Your camera or a shared call window, live; faces labelled, charted; named moments |
| **Photo** | A photo, several at once, or a snapshot; table, chart, downloads; faces pixelated if you like |
| **Video file** | A lecture or call, whole or in parts: timelines, changes, CSV log; its frames, an annotated MP4 |
| **Class dashboard** | Mix over time, per-face timelines, flags for long negative stretches, end-of-session report |
| **Compare sessions** | This week's lecture against last week's: mix, curves and a table for up to eight sessions |
| **Model** | How the model works, what it learned from, how often it is right and what it mixes up, its limits |

**It does not** identify anyone (faces get anonymous numbers that are forgotten when they leave
the picture), read minds, detect lies, or tell whether anyone is paying attention: its attention
option measures where a head points and whether the eyes are open. An expression is not an
emotion: people smile when nervous and look neutral when sad.

For webcams, classes and everyday photos, choose the **Everyday faces** model in the sidebar:
it reads fewer neutral faces as sad or angry (see its help).
"""
)

st.warning(support.RESPONSIBLE_USE, icon=":material/gavel:")

st.subheader("Measured accuracy")
card = model_card.load_card(support.model_card_path())
named = model_card.splits(model_card.metrics(card))
chosen = model_card.primary_split(named)
if chosen is None:
    st.info("This model has not been evaluated yet: no metrics in `models/fer_model.json`. "
            "See the **Model** page once they are added.")
else:
    split_name, split = chosen
    acc = model_card.scalar(split, "accuracy")
    f1 = model_card.scalar(split, "macro_f1")
    n = model_card.scalar(split, "n")
    # Said only of the split it is true of: a card may name another split first.
    held_out = " (never used to train or tune the model)" if split_name == "PrivateTest" else ""
    faces = model_card.split_words(split_name)
    cols = st.columns(3)
    cols[0].metric("Accuracy", f"{acc:.1%}" if acc is not None else "n/a",
                   help=f"Share of {faces}{held_out} whose expression the model names as the people who "
                        f"labelled them did (split: {split_name}).")
    cols[1].metric("Balanced score", f"{f1:.2f}" if f1 is not None else "n/a",
                   help="From 0 to 1: one score per expression (how often it is found and how often it is right "
                        "when named), averaged over the seven, so that rare expressions count as much as common "
                        "ones. Specialists call it macro F1.")
    cols[2].metric("Test faces", f"{int(n):,}" if n is not None else "n/a",
                   help=f"How many faces these figures are measured on: {faces}.")
    table = model_card.per_class_table(split)
    if table is not None:
        st.caption(f"Per expression, on {faces}{held_out}:")
        st.dataframe(table, width="stretch", **support.per_class_columns(table))
        if reading := model_card.per_class_reading(table):
            st.caption(reading)
real = model_card.real_photo_rows(card)
if real:
    name, acc, _ = real[0]
    # The Everyday card's table has that model and the libraries only: "both models" was said of it too.
    ours = "both models" if len(real) > len(model_card.REAL_PHOTO_PEERS) + 1 else "it"
    st.caption(f"These figures are for the **{support.model_choice()}** model "
               f"(sidebar). On 13,672 real photos of people, which FER2013 is not, it gets {acc:.1%} right; "
               f"the **Model** page compares {ours} with two other libraries there.")
support.privacy_caption()
