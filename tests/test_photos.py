"""Several photos at once (fer_core.photos): each analysed in turn, bad ones reported, tables."""

import cv2
import numpy as np
import pytest

from fer_core import load_recognizer
from fer_core.labels import LABELS
from fer_core.photos import PhotoResult, analyze_photos, faces_table, photos_table
from tests.scenes import astronaut_bgr, astronaut_in_large_photo, gallery_frame, iou, no_face_bgr


def jpeg(bgr: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


@pytest.fixture(scope="module")
def results():
    rec = load_recognizer()
    seen = []
    gallery = cv2.imencode(".png", gallery_frame(2, 2, 640, 480))[1].tobytes()
    photos = [
        ("astronaut.jpg", jpeg(astronaut_bgr())),
        ("broken.jpg", b"%PDF-1.7\n" + b"x" * 500),
        ("cat.jpg", jpeg(no_face_bgr())),
        ("gallery.png", gallery),
    ]
    out = analyze_photos(rec, iter(photos), progress=lambda i, name: seen.append((i, name)))
    return out, seen, rec, photos


def test_each_photo_is_analysed_as_one_photo_alone_would_be(results):
    out, seen, rec, photos = results
    assert [r.name for r in out] == ["astronaut.jpg", "broken.jpg", "cat.jpg", "gallery.png"]
    assert seen == [(1, "astronaut.jpg"), (2, "broken.jpg"), (3, "cat.jpg"), (4, "gallery.png")]
    assert [len(r.faces) for r in out] == [1, 0, 0, 4]
    assert out[1].error and "not an image" in out[1].error and out[1].size is None
    assert out[0].error is None and out[2].error is None and out[3].size == (640, 480)
    alone = rec.analyze(cv2.imdecode(np.frombuffer(photos[0][1], np.uint8), cv2.IMREAD_COLOR))
    assert out[0].faces[0].probabilities == pytest.approx(alone[0].probabilities, abs=1e-6)


def test_no_face_anywhere_gives_the_faces_table_its_columns():
    table = faces_table([PhotoResult("cat.jpg"), PhotoResult("broken.jpg", error="not an image")])
    assert table.empty and list(table.columns)[:4] == ["photo", "face", "label", "confidence"]
    assert set(LABELS) <= set(table.columns)


def test_the_tables_say_what_each_photo_holds(results):
    out = results[0]
    table = photos_table(out)
    assert list(table["photo"]) == [r.name for r in out] and list(table["faces"]) == [1, 0, 0, 4]
    assert list(table["note"])[1:3] == [out[1].error, "no face found"] and table["note"][0] == ""
    gallery = table.iloc[3]
    assert gallery[list(LABELS)].sum() == pytest.approx(1.0, abs=1e-3)  # the mean of four distributions
    labels = [f.label for f in out[3].faces]
    top = max(set(labels), key=labels.count)
    assert (
        gallery["expressions"].startswith(top)
        and sum(int(part.split(" x")[1]) if " x" in part else 1 for part in gallery["expressions"].split(", ")) == 4
    )
    assert np.isnan(table.iloc[2]["Happy"]) and np.isnan(table.iloc[1]["mean confidence"])
    faces = faces_table(out)
    assert list(faces["photo"]) == ["astronaut.jpg"] + ["gallery.png"] * 4
    assert list(faces["face"]) == [1, 1, 2, 3, 4] and set(LABELS) <= set(faces.columns)
    assert faces_table([PhotoResult("x.jpg", error="bad")]).empty
    # A photo of one face: its summary row has the face's figures, as written in the CSV of every face
    # (4 decimals; the summary's CSV had 16: 0.5469413995742798 beside 0.5469).
    columns = ["confidence", *LABELS]
    assert list(table.loc[0, ["mean confidence", *LABELS]]) == list(faces.loc[0, columns])


def test_a_photo_analysed_downscaled_gives_boxes_in_its_own_pixels(results):
    """A photo over 4 megapixels is analysed downscaled: its faces' boxes (the page's CSV of every
    face) were in the downscaled copy's pixels, the face 18% left of and above its place in the
    photo and smaller; now they land on it."""
    rec = results[2]
    big, face = astronaut_in_large_photo()
    out = analyze_photos(rec, [("big.jpg", jpeg(big)), ("astronaut.jpg", jpeg(astronaut_bgr()))])
    assert out[0].size == (3000, 2000) and out[1].size == (512, 512)
    row = faces_table(out).iloc[0]
    box = (row["x"], row["y"], row["w"], row["h"])
    assert iou(box, rec.analyze(big)[0].box) > 0.9 and iou(box, face) > 0.6
    assert out[1].faces[0].box == rec.analyze(cv2.imdecode(np.frombuffer(jpeg(astronaut_bgr()), np.uint8),
                                                           cv2.IMREAD_COLOR))[0].box
