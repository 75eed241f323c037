"""Data loaders: the FER2013 CSV, FER+ labels, the folder layout and the leakage mask."""
from __future__ import annotations

import gzip

import cv2
import numpy as np
import pytest

from training.data import (
    DataError,
    FaceSet,
    attach_ferplus,
    load_fer2013_csv,
    load_folder,
    load_folder_splits,
    load_splits,
    unseen_mask,
)
from training.synthetic import synthetic_face

HEADER = "emotion,pixels,Usage"
# (emotion, usage) per data row; row i has every pixel equal to 10 * i, so rows are identifiable.
ROWS = [(0, "Training"), (3, "Training"), (6, "PublicTest"), (3, "Training"), (5, "PrivateTest"),
        (1, "PublicTest"), (4, "Training")]


def pixels(value: int, n: int = 48 * 48) -> str:
    return " ".join([str(value)] * n)


def csv_text(rows=ROWS) -> str:
    return "\n".join([HEADER] + [f"{e},{pixels(10 * i)},{u}" for i, (e, u) in enumerate(rows)]) + "\n"


@pytest.fixture
def fer_csv(tmp_path):
    path = tmp_path / "fer.csv"
    path.write_text(csv_text())
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_csv_loader_splits_shapes_labels(tmp_path, gz):
    path = tmp_path / ("fer.csv.gz" if gz else "fer.csv")
    data = csv_text().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    splits = load_fer2013_csv(path)
    assert list(splits) == ["Training", "PublicTest", "PrivateTest"]
    assert {k: len(v) for k, v in splits.items()} == {"Training": 4, "PublicTest": 2, "PrivateTest": 1}
    train = splits["Training"]
    assert train.x.shape == (4, 48, 48) and train.x.dtype == np.uint8
    assert train.y.dtype == np.int64 and train.y.tolist() == [0, 3, 3, 4]
    assert train.index.tolist() == [0, 1, 3, 6]  # row positions in the file, for the FER+ join
    assert [int(img[0, 0]) for img in train.x] == [0, 10, 30, 60]  # pixels unchanged by preprocessing
    assert splits["PublicTest"].y.tolist() == [6, 1]
    assert splits["PrivateTest"].class_counts().tolist() == [0, 0, 0, 0, 0, 1, 0]


def test_csv_pixels_are_row_major(tmp_path):
    img = np.arange(48 * 48, dtype=np.int64).reshape(48, 48) % 256
    path = tmp_path / "fer.csv"
    path.write_text(f"{HEADER}\n2,{' '.join(map(str, img.ravel()))},Training\n")
    assert np.array_equal(load_fer2013_csv(path)["Training"].x[0], img.astype(np.uint8))


@pytest.mark.parametrize("bad_row, message", [
    (f"3,{pixels(1, 2303)},Training", "2303 pixels"),
    (f"3,{pixels(1, 2303)} x,Training", "non-integer"),
    (f"3,{pixels(1, 2303)} 1.5,Training", "non-integer"),
    (f"3,{pixels(1, 2303)} 256,Training", "outside 0-255"),
    (f"9,{pixels(1)},Training", "emotion '9'"),
    (f"-1,{pixels(1)},Training", "emotion '-1'"),
    (f"3,{pixels(1)},Validation", "Usage 'Validation'"),
    (f"3,{pixels(1)}", "expected 3 fields"),
])
def test_csv_bad_row_names_file_and_line(tmp_path, bad_row, message):
    lines = csv_text().splitlines()
    lines.insert(4, bad_row)  # becomes line 5 of the file (header is line 1)
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_fer2013_csv(path)
    assert "broken.csv" in str(err.value) and "line 5" in str(err.value) and message in str(err.value)


def test_csv_bad_row_in_gz_names_line(tmp_path):
    lines = csv_text().splitlines()
    lines.insert(2, f"12,{pixels(1)},Training")
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(DataError, match=r"broken\.csv\.gz, line 3"):
        load_fer2013_csv(path)


@pytest.mark.parametrize("header", ["label,pixels,Usage", "pixels,emotion,Usage", ""])
def test_csv_wrong_header(tmp_path, header):
    path = tmp_path / "hdr.csv"
    path.write_text(header + "\n" + "\n".join(csv_text().splitlines()[1:]) + "\n" if header else "")
    with pytest.raises(DataError, match=r"hdr\.csv: header"):
        load_fer2013_csv(path)


def test_csv_missing_file_and_no_rows(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.csv: no such file"):
        load_fer2013_csv(tmp_path / "nothere.csv")
    (tmp_path / "empty.csv").write_text(HEADER + "\n")
    with pytest.raises(DataError, match=r"empty\.csv: no data rows"):
        load_fer2013_csv(tmp_path / "empty.csv")


def test_csv_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match=r"bad\.csv\.gz: cannot read"):
        load_fer2013_csv(path)


# -- FER+ ------------------------------------------------------------------------------
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
# One line per row of ROWS, same order. Image names deliberately do not match row numbers.
FERPLUS_ROWS = [
    "Training,fer0000000.png,0,8,2,0,0,0,0,0,0,0",   # row 0: happy 0.8, surprise 0.2
    "Training,,0,0,0,0,0,0,0,0,0,10",                # row 1: not a face (blank name, all NF)
    "PublicTest,fer0000009.png,0,0,0,0,10,0,0,0,0,0",  # row 2: anger
    "Training,fer0000009.png,4,0,0,0,0,0,0,6,0,0",    # row 3: neutral 4 + contempt 6 -> neutral 1.0
    "PrivateTest,fer0000001.png,0,0,0,0,0,10,0,0,0,0",  # row 4: disgust
    "PublicTest,fer0000004.png,0,0,0,0,0,0,0,0,10,0",  # row 5: all unknown -> no vote on our classes
    "Training,fer0000003.png,1,0,0,5,0,0,4,0,0,0",    # row 6: sad 0.5, fear 0.4, neutral 0.1
]


@pytest.fixture
def ferplus_csv(tmp_path):
    path = tmp_path / "fer2013new.csv"
    path.write_text("\n".join([FERPLUS_HEADER] + FERPLUS_ROWS) + "\n")
    return path


def test_ferplus_joins_by_row_position(fer_csv, ferplus_csv):
    splits = attach_ferplus(load_fer2013_csv(fer_csv), ferplus_csv)
    train = splits["Training"]
    assert train.index.tolist() == [0, 3, 6]  # row 1 (not a face) dropped
    assert [int(img[0, 0]) for img in train.x] == [0, 30, 60]  # images still match their rows
    assert train.y.tolist() == [0, 3, 4]  # soft mode keeps the FER2013 labels
    np.testing.assert_allclose(train.soft.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(train.soft[0], [0, 0, 0, 0.8, 0, 0.2, 0], atol=1e-6)
    np.testing.assert_allclose(train.soft[1], [0, 0, 0, 0, 0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(train.soft[2], [0, 0, 0.4, 0, 0.5, 0, 0.1], atol=1e-6)
    assert splits["PublicTest"].index.tolist() == [2]  # row 5 (unknown only) dropped
    assert splits["PrivateTest"].soft[0].argmax() == 1


def test_ferplus_majority_mode_and_keep_non_faces(fer_csv, ferplus_csv):
    major = attach_ferplus(load_fer2013_csv(fer_csv), ferplus_csv, label_mode="majority")
    assert major["Training"].y.tolist() == [3, 6, 4]
    kept = attach_ferplus(load_fer2013_csv(fer_csv), ferplus_csv, drop_non_faces=False)
    assert len(kept["Training"]) == 4 and kept["Training"].soft[1].sum() == 0
    via_load_splits = load_splits(fer_csv, ferplus_csv)
    assert via_load_splits["Training"].index.tolist() == [0, 3, 6]


def test_ferplus_row_count_mismatch_and_missing_columns(fer_csv, tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("\n".join([FERPLUS_HEADER] + FERPLUS_ROWS[:-1]) + "\n")
    with pytest.raises(DataError, match=r"short\.csv: 6 rows, but the FER2013 file has 7"):
        attach_ferplus(load_fer2013_csv(fer_csv), short)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("Usage,Image name,neutral\nTraining,a.png,10\n")
    with pytest.raises(DataError, match=r"nocol\.csv: missing columns"):
        attach_ferplus(load_fer2013_csv(fer_csv), nocol)


def test_ferplus_refused_for_folder_layout(tmp_path, ferplus_csv):
    (tmp_path / "faces").mkdir()
    with pytest.raises(DataError, match="row position"):
        load_splits(tmp_path / "faces", ferplus_csv)


# -- folder layout ------------------------------------------------------------------------
def write(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def face_tree(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "faces"
    write(root / "train" / "Happy" / "a.jpg", synthetic_face(3, rng, (30, 50)))                 # gray
    write(root / "train" / "Happy" / "b.jpg", synthetic_face(3, rng, (120, 90), color=True))    # BGR
    bgra = cv2.cvtColor(synthetic_face(4, rng, (60, 40), color=True), cv2.COLOR_BGR2BGRA)
    write(root / "train" / "sad" / "c.png", bgra)                                               # BGRA png
    write(root / "train" / "0" / "d.png", synthetic_face(0, rng, 48))                            # "0" = Angry
    write(root / "train" / "surprised" / "e.bmp", synthetic_face(5, rng, 200, color=True))     # alias
    (root / "train" / "Happy" / "notes.txt").write_text("not an image, ignored")
    for i in range(4):
        write(root / "test" / "Neutral" / f"{i}.jpg", synthetic_face(6, rng, 64))
    return root


def test_folder_loader_mixed_images(face_tree):
    fs = load_folder(face_tree / "train")
    assert fs.x.shape == (5, 48, 48) and fs.x.dtype == np.uint8
    assert sorted(fs.y.tolist()) == [0, 3, 3, 4, 5]
    assert fs.y.dtype == np.int64
    # Each face keeps the size it was cut at (the longer side), in file order: 0/d, Happy/a,
    # Happy/b, sad/c, surprised/e; subsets carry it.
    assert fs.sides.tolist() == [48, 50, 120, 60, 200]
    assert fs.subset(np.array([1, 4])).sides.tolist() == [50, 200]


def test_csv_faces_have_no_source_sides(tmp_path):
    from training.synthetic import write_fer_csv

    path = tmp_path / "t.csv"
    write_fer_csv(path, {"Training": 3, "PublicTest": 1, "PrivateTest": 1}, seed=0)
    assert all(fs.sides is None for fs in load_fer2013_csv(path).values())


def test_folder_splits(face_tree):
    splits = load_folder_splits(face_tree)
    assert {k: len(v) for k, v in splits.items()} == {"Training": 5, "PublicTest": 2, "PrivateTest": 2}
    assert (splits["PublicTest"].y == 6).all()
    assert load_splits(face_tree)["Training"].x.shape == (5, 48, 48)


def test_folder_transparent_png_is_white(tmp_path):
    img = np.zeros((30, 30, 4), np.uint8)  # black, fully transparent
    write(tmp_path / "Happy" / "t.png", img)
    assert (load_folder(tmp_path).x == 255).all()


def test_folder_jpeg_exif_rotation_is_applied(tmp_path):
    from PIL import Image

    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :40] = 255  # left half white as stored; EXIF 6 rotates it 90 degrees clockwise
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6
    (tmp_path / "Happy").mkdir()
    pil.save(tmp_path / "Happy" / "rot.jpg", exif=exif)
    face = load_folder(tmp_path).x[0].astype(float)
    assert face[:20].mean() > 200 and face[-20:].mean() < 50  # white on top once upright


def test_folder_unknown_class_and_unreadable_image(face_tree):
    write(face_tree / "train" / "Bored" / "x.jpg", np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match=r"Bored: folder name is not one of"):
        load_folder(face_tree / "train")
    assert len(load_folder(face_tree / "train", strict=False)) == 5
    (face_tree / "train" / "Bored" / "x.jpg").unlink()
    (face_tree / "train" / "Bored").rmdir()
    (face_tree / "train" / "Happy" / "broken.jpg").write_bytes(b"\x00not a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg: not a readable image"):
        load_folder(face_tree / "train")
    assert len(load_folder(face_tree / "train", strict=False)) == 5


def test_folder_problems_are_all_named_at_once_and_a_trailing_space_is_forgiven(face_tree):
    # Each run once named one bad folder or one unreadable image: a user with several fixed one per run.
    train = face_tree / "train"
    for name in ("Freude", "Traurig"):
        write(train / name / "x.jpg", np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match=r"Freude, .*Traurig: folder names are not one of"):
        load_folder(train)
    for name in ("Freude", "Traurig"):
        (train / name / "x.jpg").unlink()
        (train / name).rmdir()
    (train / "Happy" / "broken.jpg").write_bytes(b"\x00not a jpeg")
    (train / "sad" / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"2 files are not readable images .*broken\.jpg, .*empty\.png"):
        load_folder(train)
    (train / "Happy" / "broken.jpg").unlink()
    (train / "sad" / "empty.png").unlink()
    (train / "sad").rename(train / "Fear ")  # a trailing space, easy to type and invisible in the message
    assert sorted(load_folder(train).y.tolist()) == [0, 2, 3, 3, 5]


def test_folder_missing_or_empty(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_folder(tmp_path / "nope")
    (tmp_path / "Happy").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_folder(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load_folder_splits(tmp_path)  # no train/ inside


# -- leakage ------------------------------------------------------------------------------
def test_unseen_mask():
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    novel = rng.integers(0, 256, (2, 48, 48), dtype=np.uint8)
    near = train_x[1].copy()
    near[0, 0] ^= 1  # one pixel different: not a duplicate
    test_x = np.stack([train_x[3], novel[0], near, train_x[0], novel[1]])
    train = FaceSet(train_x, np.zeros(5, np.int64))
    test = FaceSet(test_x, np.zeros(5, np.int64))
    assert unseen_mask(test, train).tolist() == [False, True, True, False, True]
    assert unseen_mask(test, FaceSet(train_x[:0], np.zeros(0, np.int64))).all()


# -- files as other tools write them -------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_csv_with_a_byte_order_mark_loads(tmp_path, gz):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark; it was read into the header."""
    data = b"\xef\xbb\xbf" + csv_text().encode()
    path = tmp_path / ("bom.csv.gz" if gz else "bom.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    assert {k: len(v) for k, v in load_fer2013_csv(path).items()} == {"Training": 4, "PublicTest": 2,
                                                                     "PrivateTest": 1}


def test_csv_blank_lines_are_skipped_and_later_lines_keep_their_numbers(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(csv_text() + "\n")  # the blank line an editor leaves at the end
    assert len(load_fer2013_csv(path)["Training"]) == 4
    lines = csv_text().splitlines()
    lines[3:3] = ["", f"9,{pixels(1)},Training"]  # a blank line 4, then a bad line 5
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"blank\.csv, line 5: emotion '9'"):
        load_fer2013_csv(path)


def test_csv_pixel_too_large_for_an_integer_is_out_of_range(tmp_path):
    lines = csv_text().splitlines()
    lines[2] = f"3,99999999999 {pixels(1, 2303)},Training"
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"huge\.csv, line 3: pixel values outside 0-255"):
        load_fer2013_csv(path)


def test_ferplus_bom_blank_lines_bad_bytes_and_bad_votes(fer_csv, tmp_path):
    good = tmp_path / "plus.csv"
    good.write_bytes(b"\xef\xbb\xbf" + ("\n".join([FERPLUS_HEADER] + FERPLUS_ROWS) + "\n\n").encode())
    assert attach_ferplus(load_fer2013_csv(fer_csv), good)["Training"].index.tolist() == [0, 3, 6]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("\n".join([FERPLUS_HEADER] + FERPLUS_ROWS) + "\n").encode().replace(b"fer0000009", b"f\xe9r", 1))
    with pytest.raises(DataError, match=r"latin\.csv: cannot read"):
        attach_ferplus(load_fer2013_csv(fer_csv), latin)
    nan = tmp_path / "nan.csv"
    nan.write_text("\n".join([FERPLUS_HEADER] + FERPLUS_ROWS).replace(",0,8,2,", ",0,nan,2,", 1) + "\n")
    with pytest.raises(DataError, match=r"nan\.csv: vote counts must be numbers >= 0"):
        attach_ferplus(load_fer2013_csv(fer_csv), nan)


def test_folder_reads_nested_folders_and_jfif_skips_hidden_and_counts_other_files(face_tree, caplog):
    rng = np.random.default_rng(2)
    train = face_tree / "train"
    write(train / "Happy" / "more" / "f.jpg", synthetic_face(3, rng, 64))   # a subfolder of a class: Happy
    (train / "Happy" / "g.jfif").write_bytes(cv2.imencode(".jpg", synthetic_face(3, rng, 64))[1].tobytes())
    (train / "Happy" / "h.gif").write_bytes(b"GIF89a")                        # another type: counted, skipped
    (train / ".ipynb_checkpoints").mkdir()                                    # hidden folder: ignored
    (train / "Happy" / ".ipynb_checkpoints").mkdir()
    (train / "Happy" / ".ipynb_checkpoints" / "x.jpg").write_bytes(b"junk")
    (train / "Happy" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")  # macOS's copy: ignored
    (train / "__MACOSX").mkdir()
    write(train / "loose.jpg", synthetic_face(3, rng, 48))                    # outside any class folder
    with caplog.at_level("WARNING", logger="training.data"):
        fs = load_folder(train)
    assert sorted(fs.y.tolist()) == [0, 3, 3, 3, 3, 4, 5]
    assert "skipped 2 file(s)" in caplog.text and f"2 in {train / 'Happy'}" in caplog.text  # h.gif, notes.txt
    assert f"skipped 1 image(s) directly in {train}" in caplog.text


def test_pack_without_its_arrays_is_a_data_error(tmp_path):
    from training.data import PACK_FORMAT

    path = tmp_path / "half.npz"
    np.savez(path, format=np.array(PACK_FORMAT))
    with pytest.raises(DataError, match=r"half\.npz: an incomplete FER pack \(no webp, offsets, usage, y, row\)"):
        load_splits(path)
