"""Model: the card of the model chosen in the sidebar (training data, metrics per class, confusion
matrix, calibration, limitations), read defensively from its JSON, and the figures under models/."""
import streamlit as st

from fer_app import support
from fer_core import charts, model_card

st.title("Model card")
card = model_card.load_card(support.model_card_path())
if not card:
    st.error("The model card `models/fer_model.json` is missing or unreadable.")
    st.stop()
st.caption(f"The **{support.model_choice()}** model "
           f"(`{card.get('model_file', '?')}`), as chosen in the sidebar.")

arch = model_card.text_field(card, "architecture", "model_name", "name")
params = model_card.text_field(card, "parameters")
size = model_card.text_field(card, "size_bytes")
cols = st.columns(3)
cols[0].metric("Architecture", str(arch or "unknown"))
cols[1].metric("Parameters", f"{params:,}" if isinstance(params, int) else "n/a")
cols[2].metric("File size", f"{size / 1e6:.2f} MB" if isinstance(size, (int, float)) else "n/a")
st.markdown(f"Classes (FER2013 order): {', '.join(card.get('labels') or [])}. Input: 48 x 48 "
            "grayscale face crops; the face detector runs first. Inference with onnxruntime "
            "on the CPU" + (" (int8 weights)" if card.get("int8") else "")
            + (f", a light blur (sigma {card['input_blur_sigma']:.1f} px) on faces cut at 48 px or more"
               if isinstance(card.get("input_blur_sigma"), (int, float)) and card["input_blur_sigma"] > 0 else "")
            + (", averaging the face and its mirror image" if card.get("flip_tta") else "") + ".")

st.subheader("Training data")
data = model_card.text_field(card, "training_data", "data", "dataset")
if isinstance(data, (dict, list)):
    st.json(data, expanded=False)
elif data:
    st.markdown(str(data))
else:
    st.markdown("FER2013 (48 x 48 grayscale faces, 7 expressions; official Training split for "
                "training, PublicTest for model selection and calibration, PrivateTest held out).")
if card.get("data_sha256"):
    st.caption(f"Data file SHA-256: `{card['data_sha256']}`")

st.subheader("Metrics")
named = model_card.splits(model_card.metrics(card))
if not named:
    st.info("No evaluation metrics in the model card yet.")
else:
    primary = model_card.primary_split(named)[0]
    names = list(named)
    split_name = st.selectbox("Evaluation split", names, index=names.index(primary),
                              help="Which faces the figures are measured on. **PrivateTest**: FER2013's test "
                                   "faces, held out (never used to train or tune the model); **PrivateTest_unseen**: "
                                   "those whose pixels appear in no training face; **PrivateTest_FERplus_majority**: "
                                   "the same faces scored against the FER+ annotators' majority labels (non-faces "
                                   "dropped); **PublicTest**: the faces that chose the model and fitted its "
                                   "calibration, so its figures may flatter it a little.")
    split = named[split_name]
    m = st.columns(4)
    for col, (key, label, fmt, about) in zip(m, [
            ("accuracy", "Accuracy", "{:.1%}", "Share of these faces whose expression the model names as the people "
                                               "who labelled them did."),
            ("macro_f1", "Macro F1", "{:.3f}", "F1 (0 to 1) combines how often an expression is found and how often "
                                               "it is right when named; macro: averaged over the seven, so that rare "
                                               "expressions count as much as common ones."),
            ("ece", "Calibration error (ECE)", "{:.1%}", "Expected calibration error: how far the confidences are "
                                                        "from how often the model is right (0 = a face shown at 70% "
                                                        "is right 70% of the time)."),
            ("n", "Faces", "{:,.0f}", None)]):
        v = model_card.scalar(split, key)
        col.metric(label, fmt.format(v) if v is not None else "n/a", help=about)
    table = model_card.per_class_table(split)
    if table is not None:
        st.plotly_chart(charts.per_class_bars(table, f"Per-class scores, {split_name}"), width="stretch")
        st.dataframe(table, width="stretch")
    cm = model_card.confusion_matrix(split)
    if cm is not None:
        st.plotly_chart(charts.confusion_heatmap(cm), width="stretch")

real = model_card.real_photo_table(card)
if real is not None:
    st.subheader("Beyond FER2013: real photos")
    n = model_card.scalar(card.get("beyond_fer2013", {}).get("metrics", {}), "n")
    st.markdown(f"{int(n or 0):,} labelled photos of real people (mostly press photos), never used to train or "
                "tune the model; the whole photo goes to the model. Mean recall is over Angry, Happy, Sad, "
                "Surprise and Neutral (too few Fear photos; noisy Disgust labels).")
    # The names without what their brackets say, given under the table: on a phone (a 358 px table)
    # "Everyday faces model (fer_model_everyday.onnx)" made the model column 310 px wide, and the
    # figures showed only after scrolling the table sideways. The names stay put when it scrolls.
    short = {name: name.split(" (")[0] for name in real["model"]}
    real["model"] = real["model"].map(short)
    st.dataframe(real.style.format({c: "{:.1%}" for c in real.columns if c != "model"}),
                 hide_index=True, width="stretch",
                 column_config={"model": st.column_config.TextColumn("model", pinned=True)})
    if full := [name for name, cut in short.items() if cut != name]:
        st.caption("In full: " + "; ".join(full) + ".")

# The plots are the standard model's: not for the Everyday one, nor another model copied over it.
figures = [] if support.everyday() or not model_card.eval_matches(card) else model_card.figures()
if card.get("temperature") is not None or card.get("calibration"):
    st.subheader("Calibration")
    t = model_card.scalar(card, "temperature")
    if t is not None:
        # Logits are divided by T: under 1 it sharpens the probabilities (the shipped cards' 0.83 and
        # 0.85), over 1 it softens them.
        st.markdown(f"The model's probabilities are {'sharpened' if t < 1 else 'softened'} by a temperature "
                    f"(T = {t:.2f}) fitted on the validation split, so that confidences are calibrated: ideally "
                    "a face shown at 70 % is right 70 % of the time. The calibration error (ECE) above"
                    + (" and the reliability figures below show" if any("reliability" in f.stem for f in figures)
                       else " shows") + " how close it gets.")
    if isinstance(card.get("calibration"), dict):
        st.json(card["calibration"], expanded=False)

if figures:
    st.subheader("Figures")
    cols = st.columns(2)
    for i, path in enumerate(figures):
        name = path.stem.replace("_", " ")
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
    + (f"; the expression recognised least often on {primary} is *{weakest[0]}* ({weakest[1]:.0%} of its faces)"
       if weakest else "") + ".\n"
    "- Performance differences across age, gender and skin tone have not been measured here.\n"
    "- An expression is not an emotion; do not make decisions about people from this output.")

with st.expander("Full model card (JSON)"):
    st.json(card, expanded=False)
