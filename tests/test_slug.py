"""The deployed slug: .slugignore keeps every file the app loads and nothing else of size,
and bin/post_compile's pyarrow trim leaves st.dataframe working."""
from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _slug_module():
    spec = importlib.util.spec_from_file_location("slug_size", ROOT / "scripts" / "slug_size.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


slug = _slug_module()


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_ignore_rules():
    pats = ["/training", "/models/fer_model.keras", "*.pyc", "docs/"]
    assert slug.ignored("training/train.py", pats)
    assert not slug.ignored("fer_core/training.py", pats)  # anchored: only the top-level folder
    assert slug.ignored("models/fer_model.keras", pats)
    assert not slug.ignored("models/fer_model.onnx", pats)
    assert slug.ignored("fer_core/__pycache__/x.cpython-311.pyc", pats)
    assert slug.ignored("docs/screenshots/a.png", pats)


def test_slug_holds_what_the_app_loads_and_not_the_rest():
    from fer_core import detect, model_card, recognizer

    kept = set(slug.deploy_files())
    rel = lambda p: str(Path(p).resolve().relative_to(ROOT))  # noqa: E731
    needed = {rel(recognizer.DEFAULT_MODEL), rel(model_card.MODELS_DIR / "fer_model.json"),
              rel(recognizer.EVERYDAY_MODEL), rel(recognizer.EVERYDAY_MODEL.with_suffix(".json")),
              "streamlit_app.py", "setup.sh", "Procfile", "requirements.txt", ".python-version",
              ".streamlit/config.toml", "bin/post_compile"}
    needed |= {rel(detect.DEFAULT_MODEL_DIR / v.filename) for v in detect.BLAZEFACE_VARIANTS.values()}
    needed |= {rel(p) for p in model_card.figures()}
    # Every other model file the code may load (the face mesh and iris models of attention):
    # all .onnx/.npy under models/ but the float32 copy of the expression model.
    needed |= {rel(p) for p in (ROOT / "models").rglob("*") if p.suffix in (".onnx", ".npy")
               and p.name != "fer_model.float32.onnx" and rel(p) in set(_tracked())}
    assert needed <= kept, needed - kept
    for gone in ("training/", "tests/", "docs/", "benchmarks/", "models/fer_model.keras",
                 "models/fer_model.float32.onnx"):
        assert not any(f.startswith(gone) for f in kept), gone
    assert sum((ROOT / f).stat().st_size for f in kept) < 15e6  # 10.4 MB: face mesh, two expression models


def test_every_first_party_import_of_the_slug_resolves_inside_it():
    """The app's code (entry point, pages, packages) imports only modules the slug keeps."""
    kept = set(slug.deploy_files())
    first_party = {p.split("/")[0].removesuffix(".py") for p in
                   subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.split() if p.endswith(".py")}
    missing = []
    for f in sorted(k for k in kept if k.endswith(".py")):
        for node in ast.walk(ast.parse((ROOT / f).read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                if name.split(".")[0] not in first_party:
                    continue
                base = name.replace(".", "/")
                if not ({f"{base}.py", f"{base}/__init__.py"} & kept):
                    missing.append(f"{f}: {name}")
    assert not missing, missing


def test_post_compile_trims_pyarrow_and_dataframes_still_render(tmp_path):
    import numpy
    import pandas
    import pyarrow

    sp = tmp_path / "site-packages"
    for mod in (pyarrow, pandas, numpy):
        pkg = Path(mod.__file__).parent
        for src in (pkg, pkg.with_name(f"{pkg.name}.libs")):  # with the wheel's bundled libraries
            if not src.exists():
                continue
            try:  # hard links: no copy of 300 MB, and the venv's own files are untouched by rm
                shutil.copytree(src, sp / src.name, copy_function=os.link)
            except OSError:
                shutil.copytree(src, sp / src.name)
    out = subprocess.run(["bash", str(ROOT / "bin" / "post_compile"), str(sp)], capture_output=True,
                         text=True, check=True).stdout
    assert "trimmed" in out
    assert not list((sp / "pyarrow").glob("libarrow_flight.so*"))
    assert not (sp / "pandas" / "tests").exists() and not list((sp / "numpy").rglob("tests"))
    app = textwrap.dedent("""
        import pandas as pd, streamlit as st
        df = pd.DataFrame({"face": ["Face 1"], "confidence": [0.9]})
        st.dataframe(df, hide_index=True, column_config={"confidence": st.column_config.ProgressColumn(
            "confidence", min_value=0.0, max_value=1.0)})
        st.table(df)
    """)
    probe = textwrap.dedent("""
        import numpy, pandas, pyarrow, sys
        for mod in (numpy, pandas, pyarrow):
            assert mod.__file__.startswith(sys.argv[1]), mod.__file__
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_string(sys.argv[2]).run(timeout=60)
        assert not at.exception, at.exception
        assert at.dataframe[0].value["confidence"].tolist() == [0.9]
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(sp), str(ROOT)]))
    run = subprocess.run([sys.executable, "-c", probe, str(sp), app], capture_output=True, text=True, env=env,
                         timeout=180)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
def test_slug_script_measures_the_repository(capsys):
    raw, gz = slug.gzip_size([(ROOT / f, f) for f in slug.deploy_files()])
    assert 0 < gz < raw
