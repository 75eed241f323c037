"""Write the model card: merge evaluation metrics into ``<model>.json`` and render ``MODEL_CARD.md``.

    python -m training.card --model models/fer_model.onnx --eval models/eval/metrics.json

The JSON card is what ``fer_core`` and the app read (labels, temperature, metrics);
the Markdown card is for people.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_core.labels import LABELS
from fer_core.model_card import REAL_PHOTO_CLASSES, real_photo_rows

#: The fields of a model card (training.export.write_card) the Markdown card shows.
CARD_FIELDS = ("model_file", "labels", "architecture", "parameters", "size_bytes", "sha256")

SPLIT_TITLES = {
    "PublicTest": "FER2013 PublicTest (model selection, temperature fit)",
    "PrivateTest": "FER2013 PrivateTest (reported once)",
    "PrivateTest_unseen": "PrivateTest rows whose pixels appear in no Training row",
    "PrivateTest_FERplus_majority": "PrivateTest against FER+ majority labels (non-faces dropped)",
}


def _ferplus_text(train_command: str) -> str:
    """What the card says of FER+ when the training command used its votes."""
    if "--ferplus-mix" not in train_command:
        return ""
    return ("; FER+ vote shares (Microsoft's fer2013new.csv, MIT licence) mixed into the targets, "
            "and the Training faces FER+ marks as not a face left out")

def beyond_table(real: dict) -> list[str]:
    """Markdown lines: the real-photo figures (the card's ``beyond_fer2013``) beside the peers'."""
    head = ["| model | accuracy | mean recall (5) | " + " | ".join(REAL_PHOTO_CLASSES) + " |",
            "|---|---|---|" + "---|" * len(REAL_PHOTO_CLASSES)]
    lines = []
    for name, acc, r in real_photo_rows({"beyond_fer2013": real}):
        if name == "this model":
            lines.append(f"| **this model** | **{acc:.1%}** | **{sum(r) / len(r):.1%}** | "
                         + " | ".join(f"{v:.0%}" for v in r) + " |")
        else:
            name = name.replace("Everyday faces", "*Everyday faces*")
            lines.append(f"| {name} | {acc:.1%} | {sum(r) / len(r):.1%} | " + " | ".join(f"{v:.0%}" for v in r) + " |")
    return head + lines


def real_photo_entry(real: dict) -> dict:
    """The card's summary of a ``training.evaluate --folder`` metrics.json."""
    m = real["metrics"]
    return {"folder": Path(real["folder"]).name, "mode": real["mode"], "metrics": {
        "n": m["n"], "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
        "macro_f1": m["macro_f1"], "mean_recall": m["mean_recall"],
        "mean_recall_classes": m["mean_recall_classes"],
        "per_class": {c: {"recall": v["recall"], "support": v["support"]} for c, v in m["per_class"].items()}}}


def _prior_text(card: dict) -> str:
    prior = card.get("class_prior")
    if not prior or not prior.get("strength"):
        return ""
    return (f", then a class-prior correction towards the FER+ vote shares at strength {prior['strength']:.1f} "
            f"({prior['rule']}; `training.prior`)")


def summarize(metrics: dict) -> dict:
    """The compact metrics block stored in the JSON card."""
    out = {}
    for name, m in metrics["splits"].items():
        out[name] = {"n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "ece": m["ece"],
                     "roc_auc_macro": m["roc_auc_macro"],
                     "per_class": m["per_class"], "confusion_matrix": m["confusion_matrix"]}
    return out


def _blur_text(card: dict) -> str:
    sigma = float(card.get("input_blur_sigma") or 0.0)
    if sigma <= 0:
        return "no input blur (see the PublicTest table below), " if card.get("input_blur_selection") else ""
    return (f"a Gaussian blur of sigma {sigma:.1f} px on the 48x48 face (chosen on PublicTest: it undoes "
            "the softening that training-time resampling gives every training face; `fer_core` skips it for "
            "faces cut smaller than 48 px, which enlarging has softened already), ")


def render_markdown(card: dict, extra: str = "", title: str = "FER expression classifier",
                    figures: bool = True) -> str:
    """The model card in Markdown: what the file is, its metrics, the real-photo table, the
    export checks and the limitations, then ``extra`` (the ablation). ``figures``: link the
    PrivateTest plots under ``eval/`` (the default model's)."""
    lines = [*_summary_lines(card, title), *_metrics_lines(card["metrics"], figures), *_beyond_lines(card),
             *_export_lines(card), *_limitation_lines(card["metrics"])]
    if extra:
        lines += ["", extra.strip()]
    return "\n".join(lines) + "\n"


def _summary_lines(card: dict, title: str) -> list[str]:
    lines = [
        f"# Model card: {title}", "",
        f"- File: `{card['model_file']}` ({card['size_bytes'] / 1024:.0f} kB), sha256 `{card['sha256']}`",
        f"- Architecture: `{card['architecture']}`, {card['parameters']:,} parameters, trained with Keras 3 "
        "and exported to ONNX; runs on onnxruntime (no TensorFlow at run time).",
        f"- Labels (output order): {', '.join(card['labels'])}",
        "- Input: (N, 48, 48, 1) float32, grayscale 0-255, made by `fer_core.preprocess.preprocess_face` "
        "(any crop -> gray -> padded square -> 48x48). Scaling to [-1, 1] is inside the model.",
        f"- Inference: {_blur_text(card)}"
        f"{'mean of the face and its mirror image (flip TTA), ' if card.get('flip_tta') else ''}"
        f"softmax temperature {card.get('temperature', 1.0):.3f} fitted on PublicTest{_prior_text(card)}.",
        f"- Training data: FER2013 Training split (28,709 faces), data file sha256 `{card.get('data_sha256')}`"
        f"{_ferplus_text(card.get('train_command') or '')}.",
        f"- Training command: `{card.get('train_command') or 'see docs/TRAINING.md'}`", "",
    ]
    return lines


def _metrics_lines(m: dict, figures: bool = True) -> list[str]:
    lines = ["## Metrics", "", "| split | faces | accuracy | macro-F1 | ROC AUC (macro) | ECE |",
             "|---|---|---|---|---|---|"]
    for name, s in m.items():
        auc = f"{s['roc_auc_macro']:.3f}" if s.get("roc_auc_macro") is not None else "-"
        lines.append(f"| {SPLIT_TITLES.get(name, name)} | {s['n']} | {s['accuracy']:.2%} | "
                     f"{s['macro_f1']:.3f} | {auc} | {s['ece']:.1%} |")
    if "PrivateTest" in m:
        lines += ["", "### Per class, PrivateTest", "", "| class | precision | recall | F1 | faces |",
                  "|---|---|---|---|---|"]
        for lab in LABELS:
            c = m["PrivateTest"]["per_class"][lab]
            lines.append(f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
        if figures:
            lines += ["", "![PrivateTest confusion matrix](eval/confusion_PrivateTest.png)",
                      "![PrivateTest reliability](eval/reliability_PrivateTest.png)"]
    return lines


def _real_photo_command(card: dict) -> str:
    """The command behind the card's real-photo figures (the shipped model's, or another one's)."""
    model = card.get("model_file", "fer_model.onnx")
    if model == "fer_model.onnx":
        return "python -m training.evaluate --folder ../shared/data/muxspace --out models/eval/realphoto.json"
    folder = {"fer_model_everyday": "everyday"}.get(Path(model).stem, Path(model).stem)  # where models/eval keeps it
    return (f"python -m training.evaluate --model models/{model} --folder ../shared/data/muxspace "
            f"--out models/eval/{folder}/realphoto.json")


def _beyond_lines(card: dict) -> list[str]:
    lines: list[str] = []
    if card.get("beyond_fer2013"):
        real = card["beyond_fer2013"]
        lines += ["", "## Beyond FER2013: real photos", "",
                  f"{real['metrics']['n']:,} labelled photos of real people (`muxspace`, Apache-2.0; mostly press "
                  "photos, loose face crops, mostly gray; an evaluation set only, never trained or tuned on). Whole "
                  "stored image through `predict_proba`; the peers' figures are from the data set's notes. "
                  f"Command: `{_real_photo_command(card)}`.", "",
                  *beyond_table(real), "",
                  "Fear (21 photos) and Disgust (noisy labels) are too few or too unreliable there to score on "
                  "their own. Where the model is weak on such photos: Surprise is often read as Neutral or Fear, "
                  "posed Disgust as Angry or Sad, posed Fear as Surprise or Sad."]
        if real.get("everyday"):
            lines += ["", f"The *Everyday faces* model (`{real['everyday'].get('model', '?')}`; the app's sidebar, "
                      "`python -m fer_core --everyday`) is this network trained further with the FER+ annotators' "
                      "votes as its main target: fewer neutral faces read as sad or angry, at a cost on FER2013's "
                      "own labels. Its own card: `MODEL_CARD_everyday.md`."]
    return lines


def _export_lines(card: dict) -> list[str]:
    lines: list[str] = []
    if "parity" in card:
        p = card["parity"]
        lines += ["", "## Export parity", "",
                  f"Keras vs ONNX on {p['n']} real PublicTest faces: max |Δprobability| "
                  f"{p['max_abs_diff']:.2e}, top-class agreement {p['top1_agreement']:.1%}."]
    if card.get("input_blur_selection"):
        lines += ["", f"### Input blur on PublicTest (shipped: sigma {float(card.get('input_blur_sigma') or 0):.1f})",
                  "", "| sigma (px) | accuracy | NLL |", "|---|---|---|"]
        lines += [f"| {r['sigma']:.1f} | {r['accuracy']:.2%} | {r['nll']:.4f} |" for r in card["input_blur_selection"]]
    if "int8" in card:
        q, f = card["int8"], card.get("float32", {})
        lines += ["", "## int8 (the shipped file)", "",
                  f"`{card['model_file']}` ({card['size_bytes'] / 1024:.0f} kB) is the float32 model "
                  f"(`{f.get('file', '?')}`, {f.get('size_bytes', 0) / 1024:.0f} kB, the one checked for parity "
                  f"above) statically quantized to int8: {q['calibration']}. On PublicTest, without mirror "
                  f"averaging, it agrees with float32 on {q['publictest_top1_agreement_with_float32']:.1%} of "
                  f"top classes; accuracy {q['publictest_accuracy_int8']:.2%} (float32 "
                  f"{q['publictest_accuracy_float32']:.2%})."]
    return lines


def _limitation_lines(m: dict) -> list[str]:
    lines: list[str] = []
    per_class = m.get("PrivateTest", {}).get("per_class", {})
    weakest = min(((lab, c["recall"]) for lab, c in per_class.items()), key=lambda t: t[1], default=None)
    lines += ["", "## Limitations", "",
              "- FER2013 faces are web photos, mostly frontal, 48x48 grayscale; labels are noisy (FER+ "
              "re-annotation agrees with them on 62.9% of rows). Disgust has only 436 training faces." +
              (f" The lowest PrivateTest recall is {weakest[0]}'s ({weakest[1]:.3f})." if weakest else ""),
              "- Expressions are not emotions: the model reports how a face looks, not what a person feels.",
              "- Accuracy drops on profile faces, occlusion (hands, masks), very small faces and poor light.",
              "- Not validated across age, gender or skin-tone groups; do not use it for decisions about people.",
              ]
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.card", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/fer_model.onnx")
    p.add_argument("--eval", default="models/eval/metrics.json", help="metrics.json from training.evaluate")
    p.add_argument("--extra", help="a Markdown file appended to the card (ablations, notes)")
    p.add_argument("--real-photos", help="metrics.json of `training.evaluate --folder` on the real-photo set "
                                         "(the card's Beyond FER2013 table)")
    p.add_argument("--real-photos-everyday", help="the same for the app's 'Everyday faces' model, a row "
                                                  "beside this model's (training.evaluate --folder ... --model M)")
    p.add_argument("--title", default="FER expression classifier", help="the card's heading")
    p.add_argument("--no-figures", action="store_true",
                   help="do not link the PrivateTest plots under eval/ (they are the default model's)")
    p.add_argument("--out", default="models/MODEL_CARD.md", help="the Markdown card to write (.md)")
    args = p.parse_args(argv)
    if Path(args.out).suffix.lower() != ".md":
        p.error(f"--out {args.out}: the card for people is Markdown; give a .md file "
                "(the JSON card beside --model is updated in place)")
    card_path = Path(args.model).with_suffix(".json")

    def read(path: str | Path, option: str, keys: tuple[str, ...], what: str) -> dict:
        """The JSON object in ``path`` (an ``option``'s file), which must have ``keys``: else ap.error."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            p.error(f"{option} {path}: no such file")
        except (OSError, ValueError) as exc:
            p.error(f"{option} {path}: not a readable JSON file ({exc})")
        if not isinstance(data, dict) or not all(k in data for k in keys):
            p.error(f"{option} {path}: not {what}")
        return data

    card = read(card_path, "--model's card", CARD_FIELDS, "a model card written by training.export")
    evaluation = read(args.eval, "--eval", ("splits",),
                      "a FER2013 evaluation (training.evaluate --data writes metrics.json; a folder "
                      "evaluation goes in --real-photos)")
    folder_eval = ("folder", "mode", "metrics")
    try:
        card["metrics"] = summarize(evaluation)
        if args.real_photos:
            card["beyond_fer2013"] = real_photo_entry(read(args.real_photos, "--real-photos", folder_eval,
                                                           "a folder evaluation (training.evaluate --folder)"))
        if args.real_photos_everyday:
            if not card.get("beyond_fer2013"):
                p.error("--real-photos-everyday needs this model's figures first (--real-photos)")
            real = read(args.real_photos_everyday, "--real-photos-everyday", (*folder_eval, "model"),
                        "a folder evaluation (training.evaluate --folder)")
            card["beyond_fer2013"]["everyday"] = {**real_photo_entry(real), "model": Path(real["model"]).name}
    except (KeyError, TypeError, AttributeError) as exc:
        p.error(f"an evaluation file lacks an entry the card needs ({exc!r}); write it again with training.evaluate")
    if args.extra and not Path(args.extra).is_file():
        p.error(f"--extra {args.extra}: no such file")
    # What the app's Model page shows under "Training data".
    card["training_data"] = ("FER2013 (48 x 48 grayscale faces, 7 expressions; official Training split for "
                             "training, PublicTest for model selection and calibration, PrivateTest held out)"
                             f"{_ferplus_text(card.get('train_command') or '')}.")
    extra = Path(args.extra).read_text() if args.extra else ""
    markdown = render_markdown(card, extra, args.title, not args.no_figures)  # fails before either file is written
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    Path(args.out).write_text(markdown)
    print(f"updated {card_path} and wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
