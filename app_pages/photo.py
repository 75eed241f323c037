"""Photo: upload or snapshot -> annotated image, table, chart, downloads."""
import functools
import hashlib
import json

import cv2
import pandas as pd
import streamlit as st

from fer_app import support, uploads
from fer_core import charts, csvtext
from fer_core.annotate import annotate, boxes_to_pixelate, enlarged_for_drawing, pixelate, results_table
from fer_core.compare import unique_names
from fer_core.imageio import ImageDecodeError, decode_image, encode_png
from fer_core.labels import LABELS
from fer_core.memory import release_memory
from fer_core.photos import analyze_photos, faces_table, photos_table

#: The annotated image is shown at most this wide or high (it fills half a wide page; the PNG
#: download keeps the analysed size, or the enlarged one of a small photo): a 2000 x 1500 picture
#: would cost 9 MB more per copy.
DISPLAY_MAX_SIDE = 1280

#: Where the model is weak on photos unlike FER2013's (models/MODEL_CARD.md, "Beyond FER2013").
WEAK_SPOTS = ("Where the model is weak: trained on FER2013's small web faces, it is less sure on studio "
              "portraits and real photos. Surprise is often read as Neutral or Fear, posed Disgust as Angry "
              "or Sad, posed Fear as Surprise or Sad, and subtle expressions as Neutral. On everyday faces "
              "the standard model reads too many neutral faces as sad or angry: choose the *Everyday faces* "
              "model in the sidebar. "
              "Frontal, well-lit faces of 60 pixels or more work best. Read the confidence, not only the label.")

#: At most this many photos at once (each up to uploads.PHOTO_MB); analysed one at a time.
MAX_PHOTOS = 20
#: .jfif: what Chrome and Edge on Windows long named the JPEGs saved from web pages (the decoder
#: reads the bytes, not the name).
PHOTO_TYPES = ["jpg", "jpeg", "jfif", "png", "webp", "bmp"]


#: The photo table's columns as shown, in this order (others after, the face box last): what a
#: teacher reads first, the face's number, expression and confidence, then the seven shares, the
#: attention measures, and the box in pixels. The CSV and JSON keep their columns and order.
FIRST_COLUMNS = ("face", "label", "confidence")
ATTENTION_COLUMNS = ("looking_at_camera", "eye_left", "eye_right", "yaw", "pitch", "roll", "gaze_x", "gaze_y",
                     "attention_hint")
BOX_COLUMNS = ("x", "y", "w", "h")


def results_columns(columns) -> dict:
    """``st.dataframe`` arguments for the photo's table of faces: the order above, plain headers with
    units ("box x (px)", "yaw (°)"), the seven shares as percentages, and each header's help."""
    order = [c for c in (*FIRST_COLUMNS, *LABELS, *ATTENTION_COLUMNS) if c in columns]
    order += [c for c in columns if c not in order and c not in BOX_COLUMNS]
    order += [c for c in BOX_COLUMNS if c in columns]
    col = st.column_config
    config: dict = {
        "face": col.NumberColumn("face", pinned=True, help="The face's number, as written on the picture."),
        "label": col.TextColumn("expression", help="The most likely of the seven expressions."),
        "confidence": col.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="percent",
                                         help="The model's share for that expression: the seven shares add up "
                                              "to 100%."),
        **{lab: col.NumberColumn(lab, format="percent", help=f"The model's share for {lab}.") for lab in LABELS},
        "looking_at_camera": col.CheckboxColumn("looking at camera",
                                                help="Eyes open and head and eyes pointed within 20° of the camera."),
        "eye_left": col.NumberColumn("left eye open (0-1)", help="0 = closed, 1 = open; the eye on the image's left."),
        "eye_right": col.NumberColumn("right eye open (0-1)",
                                      help="0 = closed, 1 = open; the eye on the image's right."),
        "yaw": col.NumberColumn("turned (° yaw)", format="%.1f°",
                                help="Yaw: the head turned to the image's right (+) or left (-), in degrees."),
        "pitch": col.NumberColumn("up/down (° pitch)", format="%.1f°",
                                  help="Pitch: the head tilted up (+) or down (-), in degrees."),
        "roll": col.NumberColumn("tilted (° roll)", format="%.1f°",
                                 help="Roll: the head tilted clockwise (+) or anticlockwise (-), in degrees."),
        "gaze_x": col.NumberColumn("gaze across", help="Where the irises sit in the eyes, in half eye widths: "
                                                       "+ toward the image's right (about ±0.5 at the extremes)."),
        "gaze_y": col.NumberColumn("gaze up/down", help="Where the irises sit in the eyes, in half eye "
                                                        "widths: + up (about ±0.5 at the extremes)."),
        "attention_hint": col.TextColumn("attention", help="Why head pose and eyes could not be measured."),
        "x": col.NumberColumn("box left (px)", help="The face box's left edge, in pixels from the photo's left."),
        "y": col.NumberColumn("box top (px)", help="The face box's top edge, in pixels from the photo's top."),
        "w": col.NumberColumn("box width (px)", help="The face box's width, in the photo's pixels."),
        "h": col.NumberColumn("box height (px)", help="The face box's height, in the photo's pixels."),
    }
    return {"column_order": order, "column_config": {c: v for c, v in config.items() if c in columns}}


def without_repeats(files: list) -> list:
    """``files`` less those with the same bytes as one before them (the same photo added twice would
    count its faces twice in the summary and its CSV), each said on the page."""
    seen: dict[str, str] = {}  # digest -> the name of its first file
    kept = []
    for f in files:
        with f.getbuffer() as data:  # no copy of the photo
            digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            st.warning(f"**{support.md_literal(f.name)}** is the same photo as **{support.md_literal(seen[digest])}**; "
                       "it is left out.",
                       icon=":material/content_copy:")
            continue
        seen[digest] = f.name
        kept.append(f)
    return kept


def within_set_limits(files: list) -> list:
    """The photos of ``files`` that the set holds, in order: each while the set has fewer than
    MAX_PHOTOS and stays within uploads.PHOTO_SET_MB together. The others are named on the page, to
    upload as another set: a set over either limit was analysed only in part without saying which
    photos were left out (over 20), or not at all (over 25 MB: eight phone photos of 3 MB)."""
    kept, left, together = [], [], 0
    for f in files:
        if len(kept) < MAX_PHOTOS and together + f.size <= uploads.PHOTO_SET_MB * uploads.MB:
            kept.append(f)
            together += f.size
        else:
            left.append(f)
    if not kept:  # each over the set's limit: the first alone, as one photo (up to uploads.PHOTO_MB)
        kept.append(left.pop(0))
        together = kept[0].size
    if left:
        total = together + sum(f.size for f in left)
        st.warning(f"{len(files)} photos, {total / uploads.MB:.1f} MB: a set holds up to {MAX_PHOTOS} photos, "
                   f"{uploads.PHOTO_SET_MB} MB together, so {len(kept)} {'are' if len(kept) > 1 else 'is'} analysed "
                   f"({together / uploads.MB:.1f} MB). Left out, to upload as another set: "
                   + ", ".join(f"**{support.md_literal(f.name)}**" for f in left) + ".",
                   icon=":material/photo_library:")
    return kept


def several_photos(files: list, attention: bool) -> tuple:
    """The summary of several photos (each analysed once per set of uploads, model and
    attention choice; only the results are kept), then the choice of the one shown below: its
    upload and its name in the set (its own, "IMG_1.jpg (2)" for the second of that name)."""
    key = (tuple(f.file_id for f in files), attention, support.model_choice())
    held = st.session_state.get("fer_photo_set")
    if held is None or held[0] != key:
        bar = st.progress(0.0, text="Analysing the photos...")
        # Phones name photos alike (IMG_0001.jpg in two folders): each gets a name of its own, else
        # the chart stacks them into one bar and the picker cannot tell them apart.
        names = unique_names([f.name for f in files])
        results = analyze_photos(support.get_recognizer(), ((n, f.getvalue()) for n, f in zip(names, files)),
                                 attention=attention,
                                 progress=lambda i, name: bar.progress(
                                     i / len(files), f"Analysed {i} of {len(files)}: {support.md_literal(name)}"))
        bar.empty()
        release_memory()
        held = (key, results)
        st.session_state["fer_photo_set"] = held
    results = held[1]
    table = photos_table(results)
    found = int(table["faces"].sum())
    unread = sum(1 for r in results if r.error)
    read = len(results) - unread
    st.subheader(f"{read} photo{'s' if read != 1 else ''}, {found} face{'s' if found != 1 else ''}"
                 + (f" ({unread} more could not be read)" if unread else ""))
    for r in results:
        if r.error:
            st.error(f"**{support.md_literal(r.name)}**: {r.error}", icon=":material/broken_image:")
    with_faces = table[table["faces"] > 0].set_index("photo")
    if not with_faces.empty:
        st.plotly_chart(charts.session_mix_bars(with_faces, "Expression mix per photo (mean over its faces)"),
                        width="stretch")
    st.dataframe(table[["photo", "faces", "expressions", "mean confidence", "note"]], hide_index=True,
                 width="stretch", column_config={"mean confidence": st.column_config.ProgressColumn(
                     "mean confidence", min_value=0.0, max_value=1.0, format="percent")})
    faces = faces_table(results)
    d1, d2 = st.columns(2)
    d1.download_button("Results of all photos (CSV)", support.csv_download(csvtext.to_csv(faces)),
                       "photos_expressions.csv", "text/csv", on_click="ignore", disabled=faces.empty)
    d2.download_button("Summary per photo (CSV)", support.csv_download(csvtext.to_csv(table)), "photos_summary.csv",
                       "text/csv", on_click="ignore")
    readable = [i for i, r in enumerate(results) if not r.error]
    if not readable:
        st.stop()
    # The choice is the photo's name (each its own, above), not its place: a photo removed
    # before it does not change it.
    by_name = {results[i].name: i for i in readable}
    shown = st.selectbox("Photo shown below", list(by_name), key="fer_photo_shown")
    i = by_name.get(shown, readable[0])
    return files[i], results[i].name


st.title("Photo")
support.privacy_caption()

source = st.radio("Source", ["Upload a photo", "Several photos", "Take a snapshot"], horizontal=True,
                  label_visibility="collapsed")
if source == "Upload a photo":
    upload = st.file_uploader("Photo (JPEG, PNG, WebP or BMP)", type=PHOTO_TYPES, max_upload_size=uploads.PHOTO_MB,
                              help=WEAK_SPOTS)
    files = [upload] if upload is not None else []
elif source == "Several photos":
    # A set of its own (not the single uploader made multiple): one photo after another there
    # replaces the last, as before, instead of piling up in memory.
    files = st.file_uploader(f"Photos (up to {MAX_PHOTOS}, {uploads.PHOTO_SET_MB} MB together): a summary of "
                             "all of them, then any one in full", type=PHOTO_TYPES,
                             max_upload_size=uploads.PHOTO_MB, accept_multiple_files=True, help=WEAK_SPOTS,
                             key="fer_photo_files")
else:
    shot = st.camera_input("Snapshot")
    files = [shot] if shot is not None else []
c1, c2 = st.columns(2)
attention = c1.toggle("Attention: head pose, eyes and gaze", value=True,
                      help="Adds, per face, where the head points (yaw: turned left or right, pitch: up or "
                           "down, roll: tilted; in degrees), how open each eye is (0 closed to 1 open), where "
                           "the eyes look (gaze) and whether the face looks at the camera, measured from a face "
                           "mesh (a model of hundreds of points on the face). Faces under 24 pixels get none.")
hide = c2.toggle("Pixelate faces", value=False,
                 help="For sharing the annotated image: every face found is pixelated under its label, "
                      "and so is anything the detector doubted and left out, on the page and in the PNG "
                      "download. A face the detector missed stays visible.")
if not files:
    st.session_state.pop("fer_photo_set", None)
    st.info("Choose a photo with one or more faces (or **Several photos** for a summary of a set). You get each "
            "face boxed and labelled with its most likely expression, a table and a chart of all seven, and the "
            "results to download. Larger faces (over about 60 pixels) work best.")
    st.stop()
files = without_repeats(files)
if any(not uploads.within_limit(upload, uploads.PHOTO_MB) for upload in files):
    st.stop()
if len(files) > 1:
    files = within_set_limits(files)
upload, shown_name = files[0], getattr(files[0], "name", "")
if len(files) > 1:
    upload, shown_name = several_photos(files, attention)
else:
    st.session_state.pop("fer_photo_set", None)

support.drop_previous_media()  # the previous photo's image and download array, before this one
try:
    image = decode_image(upload.getvalue())
except ImageDecodeError as e:
    st.error(f"**{support.md_literal(upload.name)}**: {e}", icon=":material/broken_image:")
    st.stop()
if image.downscaled:
    st.info(f"This photo has {image.megapixels:.0f} megapixels; it was analysed at "
            f"{image.bgr.shape[1]} x {image.bgr.shape[0]} pixels (so is the annotated image). The boxes in "
            f"the table, CSV and JSON are in the photo's own {image.upright_size[0]} x {image.upright_size[1]} "
            "pixels.")

recognizer = support.get_recognizer()
faces = recognizer.analyze(image.bgr, attention=attention)
if hide:  # in place: the analysis is done, the original is not needed
    pixelate(image.bgr, boxes_to_pixelate(image.bgr, faces, recognizer.detector))
# A small photo is drawn enlarged, its captions within it (fer_core.annotate.enlarged_for_drawing);
# faces are numbered on it as in the table and the chart when there are several.
drawn, drawn_faces, enlarged = enlarged_for_drawing(image.bgr, faces)
annotated = annotate(drawn, drawn_faces, copy=drawn is image.bgr, numbered=len(faces) > 1)
del drawn, drawn_faces
# The table and downloads give the boxes in the photo's own pixels (the analysis may be downscaled).
rows = results_table(image.in_original(faces))
del image  # from here on only the annotated copy is needed
picture, results = st.columns(2, gap="medium")
scale = min(1.0, DISPLAY_MAX_SIDE / max(annotated.shape[:2]))
# At least a pixel each way: a 3000 x 1 picture shown 1280 wide would be 0.4 pixels high.
size = (max(1, round(annotated.shape[1] * scale)), max(1, round(annotated.shape[0] * scale)))
shown = annotated if scale == 1.0 else cv2.resize(annotated, size, interpolation=cv2.INTER_AREA)
# The alt text is what a screen reader says for the picture (without it, its address).
picture.image(cv2.cvtColor(shown, cv2.COLOR_BGR2RGB),
              caption=f"{len(faces)} face{'s' if len(faces) != 1 else ''} found", width="stretch",
              alt=support.annotated_alt("The photo", faces, pixelated=hide))
del shown
if enlarged > 1 and faces:
    smallest = min(min(int(f.box[2]), int(f.box[3])) for f in faces)
    picture.caption(f"A small photo ({annotated.shape[1] // enlarged} x {annotated.shape[0] // enlarged} pixels): "
                    f"drawn enlarged {enlarged} times, here and in the PNG, so that its labels can be read. The "
                    "boxes in the table and the downloads are in the photo's own pixels."
                    + (f" A face of {smallest} pixels is read less reliably than one of 60 or more."
                       if smallest < 60 else ""))
release_memory()  # give the decode's, the detector's and the display's buffers back to the OS
if not faces:
    st.warning("No face was found in this photo. Faces should be roughly frontal, lit, and at "
               "least about 40 pixels wide.")
    st.stop()

table = pd.DataFrame(rows)
with results:
    st.dataframe(table, hide_index=True, width="stretch", **results_columns(table.columns))
    st.caption("Per face: its most likely expression and the model's share for it (the confidence), then the "
               "share for each of the seven, adding up to 100%"
               + (", what the head and eyes do" if attention else "") + ", and last where the face's box is, in "
               "the photo's pixels. Point at a column's name for more.")
    st.plotly_chart(charts.probability_bars(faces), width="stretch")
    if attention:
        st.caption("Pose in degrees (yaw + = turned to the image's right, pitch + = up, roll + = "
                   "clockwise); eyes 0 = closed, 1 = open; left/right = sides of the image. "
                   + support.ATTENTION_NOTE)

# The second photo of a name in a set ("IMG_1.jpg (2)") downloads as IMG_1 (2)_..., not as the first.
stem = support.file_stem(upload.name) + shown_name[len(upload.name):] if shown_name else "photo"
c1, c2, c3 = st.columns(3)
# The PNG is encoded only when the button is clicked, not on every rerun (partial, not a
# lambda: a lambda would keep all of this run's globals alive until the next run).
c1.download_button("Annotated image (PNG)" + (", faces pixelated" if hide else ""),
                   functools.partial(encode_png, annotated), f"{stem}_annotated{'_pixelated' if hide else ''}.png",
                   "image/png", on_click="ignore")
c2.download_button("Results (CSV)", support.csv_download(csvtext.to_csv(table)), f"{stem}_expressions.csv", "text/csv",
                   on_click="ignore")
c3.download_button("Results (JSON)", json.dumps(rows, indent=2), f"{stem}_expressions.json",
                   "application/json", on_click="ignore")
release_memory()  # and what the table, chart and image encoding left free
