"""The sdist holds everything the README points to and the whole test suite: every tracked file
but the CI scripts and git's own, and nothing a working tree collects (node_modules, caches).

The tracked files are copied to a scratch directory, with some working-tree litter added, and
the sdist is built there by setuptools' PEP 517 backend in this interpreter (no isolation, no
download), as ``python -m build --sdist --no-isolation`` would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Tracked, but not part of a source release.
LEFT_OUT = (".ci/", ".gitignore")
#: What a working tree collects; none of it may reach the sdist.
LITTER = (
    "tests/oidc_provider/node_modules/oidc-provider/package.json",
    "tests/oidc_provider/node_modules/.package-lock.json",
    "tests/__pycache__/conftest.cpython-311.pyc",
    "aadweb/__pycache__/cli.cpython-311.pyc",
    "benchmarks/results.json",
    "test-artifacts/trace.zip",
    ".hypothesis/examples/x",
    "aadweb-sessions.db",
)


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (e.g. the tests of an unpacked sdist)")
    return [name for name in out.stdout.decode().split("\0") if name]


def test_the_sdist_holds_every_tracked_file_but_ci_and_no_working_tree_litter(tmp_path: Path) -> None:
    tracked = _tracked()
    source = tmp_path / "src"
    for name in tracked:
        if (ROOT / name).is_file():  # a file deleted in the working tree but not yet in git: skip
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    for name in LITTER:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("litter\n")
    out = tmp_path / "dist"
    out.mkdir()
    build = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))",
         str(out)],
        cwd=source, capture_output=True, text=True, timeout=120,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    sdist = out / build.stdout.strip().splitlines()[-1]

    with tarfile.open(sdist) as tar:
        members = [m.name for m in tar.getmembers() if m.isfile()]
    top = members[0].split("/", 1)[0]
    shipped = {m.split("/", 1)[1] for m in members}
    generated = {n for n in shipped if n == "PKG-INFO" or n.startswith("aadweb.egg-info/")}
    expected = {n for n in tracked if (ROOT / n).is_file() and not n.startswith(LEFT_OUT)}

    assert top.startswith("aadweb-")
    missing = sorted(expected - shipped)
    extra = sorted(shipped - expected - generated)
    assert not missing, f"tracked files missing from the sdist: {missing}"
    assert not extra, f"files in the sdist that are not tracked: {extra}"
    for must in ("examples/gunicorn.conf.py", "tests/oidc_provider/provider.mjs", "tests/oidc_provider/package.json",
                 "tests/oidc_provider/package-lock.json", "benchmarks/__main__.py", "scripts/ensure-debian-packages.sh",
                 "Makefile", "README.md", "SECURITY.md", "CHANGELOG.md", "LICENSE"):
        assert must in shipped, must
