"""Estimate the deployed slug: a fresh ``pip install -r requirements.txt`` plus the files a
deploy carries once ``.slugignore`` is applied, measured gzipped (as Heroku compresses it).

    python scripts/slug_size.py                 # temp venv, fresh install, then measure
    python scripts/slug_size.py --venv DIR      # measure an existing venv instead
    python scripts/slug_size.py --trim          # also run bin/post_compile (as Heroku does) first

Prints the top packages, the repository part, the Python runtime part and the total in MB
(10^6 bytes). Heroku warns above 300 MB and refuses a slug above 500 MB.
"""
from __future__ import annotations

import argparse
import fnmatch
import gzip
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6


class _Counter:
    """A write-only file object that only counts bytes (the gzip stream is not kept)."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, b) -> int:
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        pass


def gzip_size(paths: list[tuple[Path, str]]) -> tuple[int, int]:
    """(raw bytes, gzip -6 bytes) of a tar of ``(file, name in archive)`` pairs."""
    counter = _Counter()
    raw = 0
    with gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w|") as tar:
            for path, name in paths:
                if path.is_symlink() or not path.is_file():
                    continue
                raw += path.stat().st_size
                tar.add(str(path), arcname=name, recursive=False)
    return raw, counter.n


def walk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


# -- .slugignore ------------------------------------------------------------------------
def read_slugignore(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def ignored(rel: str, patterns: list[str]) -> bool:
    """Heroku's rules, as documented: .gitignore-like patterns without negation. A pattern
    with a slash (other than a trailing one) is anchored at the root; one without matches a
    file or folder name at any depth; a match on a folder removes everything under it."""
    parts = rel.split("/")
    for pat in patterns:
        p = pat.rstrip("/")
        if "/" in p:
            p = p.lstrip("/")
            if any(fnmatch.fnmatchcase("/".join(parts[:i]), p) for i in range(1, len(parts) + 1)):
                return True
        elif any(fnmatch.fnmatchcase(part, p) for part in parts):
            return True
    return False


def deploy_files(root: Path = ROOT) -> list[str]:
    """Tracked files that a deploy carries (git push sends the tracked tree), minus .slugignore."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
    patterns = read_slugignore(root / ".slugignore")
    files = [f for f in out.decode().split("\0") if f]
    return [f for f in files if (root / f).is_file() and not ignored(f, patterns)]


# -- the install ------------------------------------------------------------------------
def fresh_venv(dest: Path, requirements: Path) -> tuple[Path, float]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(dest)], check=True)
    py = dest / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(requirements)], check=True)
    return py, time.perf_counter() - t0


def site_packages(py: Path) -> Path:
    out = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


def package_sizes(sp: Path, top: int) -> list[tuple[str, int, int]]:
    """(top-level entry, raw, gzip) of the largest entries of site-packages."""
    groups: dict[str, list[Path]] = {}
    for f in walk(sp):
        first = f.relative_to(sp).parts[0]
        key = first.split("-")[0] if first.endswith((".dist-info", ".libs")) else first
        key = key.removesuffix(".py").split(".cpython")[0]
        groups.setdefault(key, []).append(f)
    by_raw = sorted(groups.items(), key=lambda kv: -sum(p.stat().st_size for p in kv[1]))[:top]
    return [(name, *gzip_size([(p, str(p.relative_to(sp))) for p in files])) for name, files in by_raw]


def runtime_files() -> list[Path]:
    """The Python runtime a deploy also carries: the interpreter, its standard library with
    the standard-level .pyc files (as Heroku's builds ship them), its shared libraries; not
    its own site-packages, its test suite or the -O/-OO .pyc files."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"}
    files = [f for f in walk(stdlib) if not skip & set(f.relative_to(stdlib).parts)
             and not f.relative_to(stdlib).parts[0].startswith("config-")  # static libpython
             and ".opt-" not in f.name]
    exe = Path(sys.executable).resolve()
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    files.append(exe)
    files += [p for p in libdir.glob("libpython3*.so*") if p.is_file() and not p.is_symlink()]
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="measure this existing venv instead of a fresh install")
    ap.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    ap.add_argument("--trim", action="store_true",
                    help="run bin/post_compile on the venv first, as Heroku's Python buildpack does")
    ap.add_argument("--top", type=int, default=12, help="how many packages to list")
    ap.add_argument("--keep", action="store_true", help="keep the temporary venv and print its path")
    args = ap.parse_args(argv)

    tmp = None
    if args.venv:
        py = args.venv / "bin" / "python"
        print(f"venv: {args.venv} (existing)")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="slug-"))
        py, secs = fresh_venv(tmp / "venv", args.requirements)
        print(f"fresh venv: pip install -r {args.requirements.name} took {secs:.0f} s")
    sp = site_packages(py)
    if args.trim:
        subprocess.run(["bash", str(ROOT / "bin" / "post_compile"), str(sp)], check=True)

    print(f"\nlargest packages in {sp}:")
    print(f"  {'package':<28}{'MB':>9}{'MB gz':>9}")
    for name, raw, gz in package_sizes(sp, args.top):
        print(f"  {name:<28}{raw / MB:9.1f}{gz / MB:9.1f}")
    # pip compiles every module at install time (as on Heroku): the .pyc files are in the slug.
    sp_files = walk(sp)
    sp_raw, sp_gz = gzip_size([(p, str(p.relative_to(sp))) for p in sp_files])
    pyc_raw, pyc_gz = gzip_size([(p, str(p.relative_to(sp))) for p in sp_files if p.suffix == ".pyc"])
    files = deploy_files()
    repo_raw, repo_gz = gzip_size([(ROOT / f, f) for f in files])
    all_raw, all_gz = gzip_size([(ROOT / f, f) for f in subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
        if (ROOT / f).is_file()])
    rt = runtime_files()
    rt_raw, rt_gz = gzip_size([(p, str(p)) for p in rt])
    total = sp_gz + repo_gz + rt_gz
    print(f"\n  {'part':<44}{'MB':>9}{'MB gz':>9}")
    print(f"  {'site-packages':<44}{sp_raw / MB:9.1f}{sp_gz / MB:9.1f}")
    print(f"  {'  (of which .pyc files)':<44}{pyc_raw / MB:9.1f}{pyc_gz / MB:9.1f}")
    print(f"  {f'repository after .slugignore ({len(files)} files)':<44}{repo_raw / MB:9.1f}{repo_gz / MB:9.1f}")
    print(f"  {'  (without .slugignore: all tracked files)':<44}{all_raw / MB:9.1f}{all_gz / MB:9.1f}")
    print(f"  {'Python runtime (stdlib, interpreter)':<44}{rt_raw / MB:9.1f}{rt_gz / MB:9.1f}")
    print(f"\nslug estimate: {total / MB:.1f} MB gzipped "
          f"({'under' if total <= 300 * MB else 'OVER'} Heroku's 300 MB warning, 500 MB limit)")
    if tmp is not None:
        if args.keep:
            print(f"venv kept at {tmp / 'venv'}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    sys.exit(main())
