"""Model: the card of the model chosen in the sidebar (training data, metrics per class, confusion
matrix, calibration, limitations), read defensively from its JSON, and the figures under models/.

Said in words a teacher reads ("Balanced score", "faces in the test set", "FER2013's test faces");
the precise terms (macro F1, support, PrivateTest, ECE, the network's name) are in each figure's
help and under "For specialists"."""
import streamlit as st

from fer_app import support
from fer_core import charts, model_card

st.title("Model card")
card = model_card.load_card(support.model_card_path())
if not card:
    st.error("The model card `models/fer_model.json` is missing or unreadable.")
    st.stop()
st.caption(f"The **{support.model_choice()}** model, as chosen in the sidebar.")
st.markdown("**How it works.** The app first finds each face and turns it into a small grey picture (48 x 48 "
            "pixels); the model then gives each of the seven expressions a share, the shares adding up to 100%. "
            "The largest is the label shown, and its share is the confidence.")

arch = model_card.text_field(card, "architecture", "model_name", "name")
params = model_card.text_field(card, "parameters")
size = model_card.text_field(card, "size_bytes")

st.subheader("What it learned from")
data = model_card.text_field(card, "training_data", "data", "dataset")
fer2013 = not data or (isinstance(data, str) and data.startswith("FER2013"))
if fer2013:
    st.markdown("**FER2013**, a research set of 35,887 small grey photos of faces found on the web, each labelled "
                "by people with one of the seven expressions. The model learned from its training part (28,709 "
                "faces); 3,589 tuned it, and 3,589 more, never used to train or tune it, test it (the figures below)."
                + (" It also learned from **FER+**, a second labelling of the same faces by ten people each."
                   if isinstance(data, str) and "FER+" in data else ""))
elif isinstance(data, str):
    st.markdown(data)
else:
    st.markdown("Described under **For specialists** below.")

st.subheader("How often it is right")
named = model_card.splits(model_card.metrics(card))
if not named:
    st.info("No evaluation metrics in the model card yet.")
else:
    primary = model_card.primary_split(named)[0]
    names = list(named)
    split_name = st.selectbox("Measured on", names, index=names.index(primary), format_func=model_card.split_words,
                              help="Which faces the figures are measured on. **FER2013's test faces** (PrivateTest): "
                                   "held out, never used to train or tune the model; **the test faces unlike any "
                                   "training face** (PrivateTest_unseen): those whose pixels appear in no training "
                                   "face; **labelled again by a crowd** (PrivateTest_FERplus_majority): the same "
                                   "faces scored against the FER+ annotators' majority labels (non-faces dropped); "
                                   "**the faces that tuned the model** (PublicTest): they chose the model and fitted "
                                   "its calibration, so its figures may flatter it a little.")
    split = named[split_name]
    faces = model_card.split_words(split_name)
    m = st.columns(4)
    for col, (key, label, fmt, about) in zip(m, [
            ("accuracy", "Accuracy", "{:.1%}", f"Share of {faces} whose expression the model names as the people "
                                               "who labelled them did."),
            ("macro_f1", "Balanced score", "{:.3f}", "From 0 to 1: one score per expression (how often it is found "
                                                     "and how often it is right when named), averaged over the "
                                                     "seven, so that rare expressions count as much as common ones. "
                                                     "Specialists call it macro F1."),
            ("ece", "Confidence off by", "{:.1%}", "How far the confidences shown are, on average, from how often "
                                                   "the model is right: 0 would mean a face shown at 70% is right 70% "
                                                   "of the time. Specialists call it the expected calibration error "
                                                   "(ECE)."),
            ("n", "Faces", "{:,.0f}", f"How many faces these figures are measured on: {faces} ({split_name}).")]):
        v = model_card.scalar(split, key)
        col.metric(label, fmt.format(v) if v is not None else "n/a", help=about)
    table = model_card.per_class_table(split)
    if table is not None:
        names_shown = {c: label for c, (label, _) in model_card.PER_CLASS_COLUMNS.items()}
        st.plotly_chart(charts.per_class_bars(table, f"Per expression, on {faces}", names=names_shown),
                        width="stretch")
        st.dataframe(table, width="stretch", **support.per_class_columns(table))
        st.caption(model_card.per_class_reading(table)
                   or "Found: the share of that expression's faces the model names correctly.")
    cm = model_card.confusion_matrix(split)
    if cm is not None:
        st.plotly_chart(charts.confusion_heatmap(cm, title="Which expression is taken for which"), width="stretch")
        st.caption("Each row is the expression the faces show, each column what the model said: read across a "
                   "row for where that expression's faces went; the diagonal is the share it got right "
                   "(specialists: the confusion matrix, rows normalised).")

real = model_card.real_photo_table(card)
if real is not None:
    st.subheader("Beyond FER2013: real photos")
    n = model_card.scalar(card.get("beyond_fer2013", {}).get("metrics", {}), "n")
    st.markdown(f"{int(n or 0):,} labelled photos of real people (mostly press photos), never used to train or "
                "tune the model; the whole photo goes to the model.")
    # The names without what their brackets say, given under the table: on a phone (a 358 px table)
    # "Everyday faces model (fer_model_everyday.onnx)" made the model column 310 px wide, and the
    # figures showed only after scrolling the table sideways. The names stay put when it scrolls.
    short = {name: name.split(" (")[0] for name in real["model"]}
    real["model"] = real["model"].map(short)
    config = {c: st.column_config.NumberColumn(label, help=about, format="percent")
              for c, (label, about) in model_card.REAL_PHOTO_COLUMNS.items()}
    st.dataframe(real, hide_index=True, width="stretch",
                 column_config={"model": st.column_config.TextColumn("model", pinned=True), **config,
                                **{c: st.column_config.NumberColumn(c, format="percent")
                                   for c in model_card.REAL_PHOTO_CLASSES}})
    st.caption("Photos right: the share of all photos named as labelled. Found, on average: each expression's "
               "share of its photos named correctly, averaged over Angry, Happy, Sad, Surprise and Neutral (too "
               "few Fear photos; noisy Disgust labels), so that the common ones do not hide the rare. The other "
               "columns: that expression alone.")
    if full := [name for name, cut in short.items() if cut != name]:
        st.caption("In full: " + "; ".join(full) + ".")

# The plots are the standard model's: not for the Everyday one, nor another model copied over it.
figures = [] if support.everyday() or not model_card.eval_matches(card) else model_card.figures()
if card.get("temperature") is not None or card.get("calibration"):
    st.subheader("Can its confidence be taken at its word?")
    t = model_card.scalar(card, "temperature")
    if t is not None:
        # Logits are divided by T: under 1 it sharpens the probabilities (the shipped cards' 0.83 and
        # 0.85), over 1 it softens them.
        st.markdown("A confidence of 70% should mean the label is right 7 times in 10. To come close, the model's "
                    f"shares are {'sharpened' if t < 1 else 'softened'} by a temperature (T = {t:.2f}) fitted on "
                    "the faces that tuned the model. **Confidence off by** above"
                    + (" and the figures of confidence against how often it is right below show" if any(
                        "reliability" in f.stem for f in figures) else " shows") + " how close it gets.")
    if isinstance(card.get("calibration"), dict):
        st.json(card["calibration"], expanded=False)

if figures:
    st.subheader("Figures")
    st.caption("Which expression is taken for which: rows are the expressions the faces show, columns what the "
               "model said. Confidence against how often it is right: the nearer the diagonal, the more a "
               "confidence can be taken at its word.")
    cols = st.columns(2)
    for i, path in enumerate(figures):
        name = model_card.figure_caption(path)
        cols[i % 2].image(str(path), caption=name, alt=f"Figure: {name}")

st.subheader("Known limitations")
limits = model_card.text_field(card, "limitations", "known_limitations")
if isinstance(limits, list):
    st.markdown("\n".join(f"- {x}" for x in limits))
elif limits:
    st.markdown(str(limits))
# The weakest class from the card, not a fixed name: Disgust, the rarest in training, was once said
# here to be "rarely predicted well" while its PrivateTest recall (0.67) was far above Fear's (0.38).
weakest = model_card.weakest_class(named[primary]) if named else None
st.markdown(
    "- FER2013 is low-resolution, web-scraped, mostly frontal and posed, with noisy labels; "
    "accuracy is lower on real classroom or call video, on profile views, occlusions (masks, "
    "hands, glasses) and poor light.\n"
    "- *Disgust* has very few training examples (436 of 28,709)"
    + (f"; the expression recognised least often on {model_card.split_words(primary)} is *{weakest[0]}* "
       f"({weakest[1]:.0%} of its faces)" if weakest else "") + ".\n"
    "- Performance differences across age, gender and skin tone have not been measured here.\n"
    "- An expression is not an emotion; do not make decisions about people from this output.")

with st.expander("For specialists: the network, its input, data and files"):
    cols = st.columns(3)
    cols[0].metric("Architecture", str(arch or "unknown"))
    cols[1].metric("Parameters", f"{params:,}" if isinstance(params, int) else "n/a")
    cols[2].metric("File size", f"{size / 1e6:.2f} MB" if isinstance(size, (int, float)) else "n/a")
    st.markdown(f"Model file `{card.get('model_file', '?')}`. Classes (FER2013 order): "
                f"{', '.join(card.get('labels') or [])}. Input: 48 x 48 grayscale face crops; the face detector "
                "runs first. Inference with onnxruntime on the CPU" + (" (int8 weights)" if card.get("int8") else "")
                + (f", a light blur (sigma {card['input_blur_sigma']:.1f} px) on faces cut at 48 px or more"
                   if isinstance(card.get("input_blur_sigma"), (int, float)) and card["input_blur_sigma"] > 0 else "")
                + (", averaging the face and its mirror image" if card.get("flip_tta") else "") + ".")
    if isinstance(data, (dict, list)):
        st.json(data, expanded=False)
    elif data and fer2013:  # a fine-tuned model's own words are shown above already
        st.markdown(f"Training data: {data}")
    elif not data:
        st.markdown("Training data: FER2013 (48 x 48 grayscale faces, 7 expressions; official Training split for "
                    "training, PublicTest for model selection and calibration, PrivateTest held out).")
    if card.get("data_sha256"):
        st.caption(f"Data file SHA-256: `{card['data_sha256']}`")
    if figures:
        st.caption("Figures: " + ", ".join(f"`{p.name}`" for p in figures) + " (models/eval/).")

with st.expander("Full model card (JSON)"):
    st.json(card, expanded=False)
