"""The predictor on real photos and on awkward inputs, through the public fer_core API."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core import LABELS, FaceResult, load_recognizer
from tests.scenes import ASTRONAUT_FACE, astronaut_bgr, gallery_frame, iou, no_face_bgr, one_face_frame

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rec():
    return load_recognizer()


def test_labels_are_fer2013_order():
    assert LABELS == ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")


def test_predict_proba_uint8_batch(rec):
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    p = rec.predict_proba(faces)
    assert p.shape == (5, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert (p >= 0).all()


def test_predict_proba_batch_equals_single(rec):
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    batch = rec.predict_proba(faces)
    single = np.concatenate([rec.predict_proba(faces[i:i + 1]) for i in range(6)])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_predict_proba_in_model_calls_of_batch_limit_faces():
    faces = np.random.default_rng(5).integers(0, 256, (19, 48, 48), dtype=np.uint8)
    default = load_recognizer()
    assert default.batch_limit == 8
    one_call = load_recognizer(batch_limit=64).predict_proba(faces)
    np.testing.assert_allclose(default.predict_proba(faces), one_call, atol=1e-5)
    np.testing.assert_allclose(load_recognizer(batch_limit=5).predict_proba(faces), one_call, atol=1e-5)


def test_predict_proba_mixed_crops_and_empty(rec):
    img = astronaut_bgr()
    x, y, w, h = ASTRONAUT_FACE
    crop = img[y:y + h, x:x + w]
    crops = [crop, cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.cvtColor(crop, cv2.COLOR_BGR2BGRA),
             cv2.resize(crop, (300, 391))]
    p = rec.predict_proba(crops)
    assert p.shape == (4, 7)
    # Gray and colour versions of one crop are the same face to the model.
    np.testing.assert_allclose(p[0], p[1], atol=0.02)
    assert rec.predict_proba([]).shape == (0, 7)


def test_predict_proba_refuses_one_crop_given_alone(rec):
    """One BGR face crop of 94x94 gave (94, 7) probabilities (its rows read as 94 crops 3 px wide),
    a 48x48 gray crop an error about shape (48,): both now say to give a list or a batch."""
    img = astronaut_bgr()
    x, y, w, h = ASTRONAUT_FACE
    crop = img[y:y + h, x:x + w]
    for alone in (crop, cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.cvtColor(crop, cv2.COLOR_BGR2BGRA),
                  cv2.resize(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), (48, 48))[..., None]):
        with pytest.raises(ValueError, match="a list of crops"):
            rec.predict_proba(alone)
    assert rec.predict_proba([crop]).shape == rec.predict_proba(crop[None]).shape == (1, 7)


def test_flip_tta_makes_prediction_mirror_symmetric(rec):
    if not rec.flip_tta:
        pytest.skip("model card disables flip averaging")
    faces = np.random.default_rng(2).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(rec.predict_proba(faces), rec.predict_proba(faces[:, :, ::-1]), atol=1e-5)


def test_analyze_astronaut_is_one_happy_face(rec):
    results = rec.analyze(astronaut_bgr())
    assert len(results) == 1
    r = results[0]
    assert isinstance(r, FaceResult)
    assert iou(r.box, ASTRONAUT_FACE) > 0.3
    assert len(r.probabilities) == 7 and abs(sum(r.probabilities) - 1) < 1e-4
    assert r.label == LABELS[int(np.argmax(r.probabilities))]
    assert r.confidence == max(r.probabilities)
    assert r.label == "Happy", r.as_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.label = "Sad"


def test_analyze_gray_and_rgba_inputs(rec):
    frame = one_face_frame()
    for img in (cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)):
        results = rec.analyze(img)
        assert len(results) == 1
        assert results[0].label == "Happy"


def test_analyze_float_and_16_bit_colour_frames_as_their_8_bit_selves(rec):
    """Float BGR/BGRA in [0, 1] and 16-bit BGR: the same face as the 8-bit frame. They once reached
    the detector nearly black (found nothing) while the model's gray path scaled them."""
    frame = one_face_frame()
    expected = rec.analyze(frame)
    bgra = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    for img in (frame.astype(np.float32) / 255.0, bgra.astype(np.float64) / 255.0, frame.astype(np.uint16) * 257,
                frame.astype(np.float32)):
        results = rec.analyze(img)
        assert [r.box for r in results] == [r.box for r in expected], img.dtype
        assert np.allclose(results[0].probabilities, expected[0].probabilities, atol=1e-5)


def test_one_source_side_for_every_crop(rec):
    crops = np.stack([cv2.resize(cv2.cvtColor(one_face_frame(), cv2.COLOR_BGR2GRAY), (48, 48))] * 3)
    assert np.array_equal(rec.predict_proba(crops, source_sides=48), rec.predict_proba(crops, source_sides=[48] * 3))


def test_analyze_no_face_returns_empty(rec):
    assert rec.analyze(no_face_bgr()) == []
    assert rec.analyze(np.zeros((240, 320, 3), np.uint8)) == []


def test_analyze_gallery_finds_many_faces_in_one_batch(rec, monkeypatch):
    calls = []
    real = rec.predict_proba
    monkeypatch.setattr(rec, "predict_proba", lambda faces, **kw: calls.append(len(faces)) or real(faces, **kw))
    results = rec.analyze(gallery_frame())
    assert len(results) >= 20
    assert calls == [len(results)], "all faces of a frame must go through one model call"
    assert sum(r.label == "Happy" for r in results) >= 0.8 * len(results)


def test_analyze_respects_max_faces(rec):
    assert len(rec.analyze(gallery_frame(), max_faces=3)) == 3


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_recognizer(tmp_path / "nope.onnx")


def test_a_card_of_another_model_file_is_not_applied(tmp_path, caplog):
    """A model file copied over without its card kept the old card's temperature and class prior:
    the standard weights read with the Everyday card changed 9% of 300 real photos' labels. A card
    whose sha256 is another file's, or that is not a JSON object, is now ignored, with a warning."""
    import shutil

    from fer_core.recognizer import DEFAULT_MODEL, EVERYDAY_MODEL

    model = tmp_path / "mine.onnx"
    shutil.copy(DEFAULT_MODEL, model)
    bare = load_recognizer(model)  # no card: no temperature, no class prior
    shutil.copy(EVERYDAY_MODEL.with_suffix(".json"), model.with_suffix(".json"))
    gray = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2GRAY)
    faces = np.stack([cv2.resize(gray, (48, 48)), gray[:48, :48]])
    with caplog.at_level("WARNING", logger="fer_core.recognizer"):
        mismatched = load_recognizer(model)
    assert "describes another model file" in caplog.text
    assert mismatched.card == {} and mismatched.temperature == 1.0 and mismatched.prior_strength == 0.0
    np.testing.assert_array_equal(mismatched.predict_proba(faces), bare.predict_proba(faces))
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), model.with_suffix(".json"))  # its own card: used
    assert load_recognizer(model).temperature == load_recognizer().temperature != 1.0
    model.with_suffix(".json").write_text("[1, 2]")  # JSON, but not a card: was AttributeError
    assert load_recognizer(model).card == {}


def test_cli_on_photo_and_corrupt_file(tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    out = tmp_path / "annotated.png"
    proc = subprocess.run([sys.executable, "-m", "fer_core", str(photo), str(bad), "--json",
                           "--annotate", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1  # one file failed
    assert "broken.jpg: This file is not an image" in proc.stderr
    report = json.loads(proc.stdout)
    assert report[0]["faces"][0]["label"] == "Happy"
    assert "error" in report[1]
    assert cv2.imread(str(out)).shape == astronaut_bgr().shape


def test_cli_output_piped_into_a_reader_that_left_ends_without_a_traceback(tmp_path):
    """``python -m fer_core PHOTO | head -c 10`` printed a BrokenPipeError traceback (or Python's
    'Exception ignored' when stdout is buffered): now nothing on stderr, exit status 1."""
    import os

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    for unbuffered in ("1", ""):
        env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
        for extra in ([], ["--json"]):
            proc = subprocess.Popen([sys.executable, "-m", "fer_core", str(photo), *extra], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()  # the reader is gone before the first line
            err = proc.stderr.read().decode()
            assert proc.wait(timeout=120) == 1 and err == "", (unbuffered, extra, err)


def test_cli_pixelates_the_annotated_photo_for_sharing(tmp_path, capsys):
    from fer_core.__main__ import main

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    plain, hidden = tmp_path / "plain.png", tmp_path / "hidden.png"
    assert main([str(photo), "--annotate", str(plain)]) == 0
    assert main([str(photo), "--annotate", str(hidden), "--pixelate"]) == 0
    x, y, w, h = ASTRONAUT_FACE
    centre = (slice(y + h // 2 - 6, y + h // 2 + 6), slice(x + w // 2 - 6, x + w // 2 + 6))  # inside one block or two
    colours = [len(np.unique(cv2.imread(str(f))[centre].reshape(-1, 3), axis=0)) for f in (plain, hidden)]
    assert colours[0] > 50 and colours[1] <= 4, colours
    with pytest.raises(SystemExit):
        main([str(photo), "--pixelate"])
    assert "--annotate" in capsys.readouterr().err


def test_cli_refuses_an_annotated_photo_it_cannot_write_before_any_work(tmp_path, capsys):
    from fer_core.__main__ import main

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    before = photo.read_bytes()
    (tmp_path / "folder.png").mkdir()
    for out, why in [(photo, "is one of the photos"), (tmp_path / "nowhere" / "a.png", "does not exist"),
                     (tmp_path / "folder.png", "is a folder"), (tmp_path / "a.txt", "ending in .png")]:
        with pytest.raises(SystemExit):
            main([str(photo), "--annotate", str(out), "--pixelate"])
        assert why in capsys.readouterr().err
    assert photo.read_bytes() == before  # the photo itself was not replaced by its pixelated copy
    with pytest.raises(SystemExit):
        main([str(photo), "--model", str(tmp_path / "nope.onnx")])
    assert "no such file" in capsys.readouterr().err
    # A model file that is not one, a folder given as a photo: one line each, no traceback.
    assert main([str(photo), "--model", str(photo)]) == 1
    assert "cannot be loaded" in capsys.readouterr().err
    assert main([str(tmp_path / "folder.png")]) == 1
    assert "is a folder, not a photo" in capsys.readouterr().err
    # The first photo that can be read is the one annotated; with none, it says so.
    out = tmp_path / "first.png"
    assert main([str(tmp_path / "missing.jpg"), str(photo), "--annotate", str(out)]) == 1
    assert cv2.imread(str(out)).shape == astronaut_bgr().shape
    capsys.readouterr()
    assert main([str(tmp_path / "missing.jpg"), "--annotate", str(tmp_path / "none.png")]) == 1
    assert "no photo could be read" in capsys.readouterr().err and not (tmp_path / "none.png").exists()


def test_cli_everyday_uses_the_everyday_model(tmp_path):
    from fer_core.detect import still_detector
    from fer_core.recognizer import EVERYDAY_MODEL

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    probs = []
    for extra in ([], ["--everyday"]):
        proc = subprocess.run([sys.executable, "-m", "fer_core", str(photo), "--json", *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        probs.append([json.loads(proc.stdout)[0]["faces"][0]["probabilities"][lab] for lab in LABELS])
    for got, model in zip(probs, (None, EVERYDAY_MODEL)):  # the command line detects as the Photo page does
        rec = load_recognizer(model, detector=still_detector())
        assert got == pytest.approx(rec.analyze(cv2.imread(str(photo)))[0].probabilities, abs=1e-6)
    proc = subprocess.run([sys.executable, "-m", "fer_core", str(photo), "--everyday", "--model", "x.onnx"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "either" in proc.stderr


def test_everyday_model_card_matches_its_file():
    import hashlib

    from fer_core.recognizer import EVERYDAY_MODEL

    card = json.loads(EVERYDAY_MODEL.with_suffix(".json").read_text())
    assert card["model_file"] == EVERYDAY_MODEL.name and card["labels"] == list(LABELS)
    assert card["sha256"] == hashlib.sha256(EVERYDAY_MODEL.read_bytes()).hexdigest()
    assert card["size_bytes"] == EVERYDAY_MODEL.stat().st_size < 5e6
    rec = load_recognizer(EVERYDAY_MODEL)
    assert rec.flip_tta and rec.prior_strength == card["class_prior"]["strength"]


def test_input_blur_only_for_faces_cut_at_48_px_or_more():
    import cv2

    from fer_core.preprocess import preprocess_face, smooth_batch

    rec = load_recognizer(input_blur=0.6)  # a card's input_blur_sigma, set here whatever the shipped card says
    big = astronaut_bgr()[60:185, 160:285]            # 125 px: blurred after resizing
    small = cv2.resize(big, (30, 30), interpolation=cv2.INTER_AREA)  # enlarged to 48: left sharp
    p = rec.predict_proba([big, small])
    plain = load_recognizer(input_blur=0.0)
    faces = np.stack([preprocess_face(big), preprocess_face(small)])
    np.testing.assert_allclose(p[0], plain.predict_proba(smooth_batch(faces[:1], rec.input_blur))[0], atol=1e-6)
    np.testing.assert_allclose(p[1], plain.predict_proba(faces[1:])[0], atol=1e-6)
    np.testing.assert_allclose(rec.predict_proba(faces, source_sides=[125, 30]), p, atol=1e-6)
    assert not np.allclose(rec.predict_proba(faces)[1], p[1], atol=1e-4), "an array without sides is all blurred"
    with pytest.raises(ValueError, match="source_sides"):
        rec.predict_proba(faces, source_sides=[125])


def test_readme_python_api_finds_the_faces_the_command_line_finds(tmp_path, capsys):
    """The README's Python example once loaded the recognizer with the live page's one-pass
    detector: on a class photo it found fewer faces than ``python -m fer_core`` (6 of 9 here)."""
    from fer_core.__main__ import main

    photo = tmp_path / "class.jpg"
    cv2.imwrite(str(photo), gallery_frame(3, 3, 960, 960))
    text = (ROOT / "README.md").read_text()
    block = text.split("## Command line and Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    example = block.split("\nprobs = ", 1)[0].replace('"class.jpg"', repr(str(photo)))
    scope: dict = {}
    exec(example, scope)  # the README's own lines
    assert main([str(photo), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)[0]["faces"]
    assert len(cli) == 9
    assert [list(f.box) for f in scope["faces"]] == [f["box"] for f in cli]
    assert [f.label for f in scope["faces"]] == [f["label"] for f in cli]


def test_cli_gives_the_boxes_of_a_downscaled_photo_in_its_own_pixels(tmp_path, capsys):
    """A photo over 4 megapixels is analysed downscaled (as on the Photo page): the command line gave
    its boxes with nothing to say they were not in the photo's own pixels (a 16 MP photo's face at
    half its place and size), then in the analysed size with a ``scale`` to multiply by; now in the
    photo's own pixels, as the Photo page's and the batch's files give them, with the analysed size said."""
    from fer_core.__main__ import main
    from fer_core.detect import still_detector

    big = cv2.resize(astronaut_bgr(), (2400, 2400), interpolation=cv2.INTER_CUBIC)
    photo, small = tmp_path / "big.jpg", tmp_path / "small.png"
    cv2.imwrite(str(photo), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(small), astronaut_bgr())
    assert main([str(photo), str(small), "--json"]) == 0
    got, plain = json.loads(capsys.readouterr().out)
    assert got["size"] == [2400, 2400] and got["analysed_size"] == [2000, 2000] and "scale" not in got
    assert plain["size"] == [512, 512] and "analysed_size" not in plain
    full = load_recognizer(detector=still_detector()).analyze(big)[0].box
    assert iou(got["faces"][0]["box"], full) > 0.9
    assert main([str(photo)]) == 0
    out = capsys.readouterr().out
    assert "analysed at 2000 x 2000 pixels; the boxes are in the photo's own pixels" in out
    assert f"face 1 at {tuple(got['faces'][0]['box'])}" in out
