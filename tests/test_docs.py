"""Every ``bash`` and ``python`` block of README.md and docs/*.md runs as written.

Each page's blocks run in order, as a reader would type them, in one scratch folder per page
holding copies of the scripts, ``configs/`` and ``examples/`` plus the few inputs the pages name
(``photo.jpg``, ``photos/``, ``photos.txt``, ``beach.jpg``, ``holidays/``, ``shots/``,
``clip.mp4``, ``my_people/``), made
here. Downloads are pointed at a dead proxy, so a block that needs the network fails. Lines that
install or run the test suite (``pip install``, ``python -m pytest``) are not re-run.

A block may be marked by an HTML comment on the line before its fence, reasons comma-separated:
``<!-- doc-test: needs shared -->`` (runs only with ``../shared`` beside the project),
``<!-- doc-test: needs extra onnx -->`` (only when that optional extra is installed),
``<!-- doc-test: needs model person_fast -->`` (only once that registry name exists),
``<!-- doc-test: slow -->`` (only with ``DEEPLAB_DOC_TEST_SLOW=1``), or
``<!-- doc-test: skip <why> -->`` (never: e.g. it downloads a release). Python blocks must not
print native log noise (TensorFlow, CUDA, absl, LiteRT lines).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED_DIR
from deeplab.tf_noise import NOISE
from deeplab.weights.registry import find_release

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python",
                 "py": "python"}
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
NOT_RERUN = re.compile(r"^\s*(pip install|python -m pytest)\b")
#: Optional extras, by the modules they install.
EXTRAS = {"onnx": ("tf2onnx", "onnxruntime"), "beam": ("apache_beam",)}
SLOW = os.environ.get("DEEPLAB_DOC_TEST_SLOW") == "1"


@dataclass
class Block:
    page: Path
    line: int
    language: str
    code: str
    marks: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract_blocks(page: Path) -> list[Block]:
    """The runnable fenced blocks of ``page`` with the marks of the comment before each."""
    blocks, lines = [], page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start, language = index, match.group(1).lower()
        index += 1
        body = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        if language not in RUN_LANGUAGES:
            continue
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.match(lines[before]) if before >= 0 else None
        marks = tuple(m.strip() for m in marker.group(1).split(",")) if marker else ()
        blocks.append(Block(page, start + 1, RUN_LANGUAGES[language], "\n".join(body) + "\n",
                            marks))
    return blocks


def skip_reason(block: Block) -> str | None:
    """Why ``block`` cannot run here (None: it runs)."""
    for mark in block.marks:
        if mark.startswith("skip"):
            return f"{block.name}: {mark}"
        if mark == "needs shared" and not SHARED_DIR.is_dir():
            return f"{block.name} needs ../shared"
        if mark.startswith("needs extra "):
            extra = mark.removeprefix("needs extra ").strip()
            missing = [m for m in EXTRAS.get(extra, (extra,))
                       if importlib.util.find_spec(m) is None]
            if missing:
                return f"{block.name} needs the optional extra {extra} ({', '.join(missing)})"
        if mark.startswith("needs model "):
            name = mark.removeprefix("needs model ").strip()
            if find_release(name) is None:
                return f"{block.name} needs the model {name}, not in the registry yet"
        if mark == "slow" and not SLOW:
            return f"{block.name} is slow: set DEEPLAB_DOC_TEST_SLOW=1 to run it"
        known = mark.startswith(("skip", "needs extra ", "needs model ")) \
            or mark in ("needs shared", "slow")
        if not known:
            raise ValueError(f"{block.name}: unknown doc-test mark {mark!r}")
    return None


def make_sandbox(folder: Path) -> Path:
    """A scratch project folder with the scripts, configs, examples and the inputs pages name."""
    for script in ("infer.py", "train.py", "export.py"):
        shutil.copy2(ROOT / script, folder / script)
    for tree in ("configs", "examples", "benchmarks"):
        shutil.copytree(ROOT / tree, folder / tree)
    astronaut = ROOT / "examples" / "astronaut.jpg"
    shutil.copy2(astronaut, folder / "photo.jpg")
    (folder / "photos").mkdir()
    shutil.copy2(astronaut, folder / "photos" / "astronaut.jpg")
    (folder / "photos.txt").write_text("photos/\n")
    (folder / "holidays").mkdir()
    shutil.copy2(ROOT / "examples" / "people" / "images" / "cameraman.jpg",
                 folder / "holidays" / "cameraman.jpg")
    (folder / "shots").mkdir()
    cv2.imwrite(str(folder / "shots" / "astronaut.png"), cv2.imread(str(astronaut)))
    yy, xx = np.mgrid[0:240, 0:320]
    beach = np.stack([120 + xx * 0.3, 160 + yy * 0.2, 200 - yy * 0.3], -1).astype(np.uint8)
    cv2.imwrite(str(folder / "beach.jpg"), beach)
    _write_clip(folder / "clip.mp4", cv2.imread(str(astronaut)))
    people = folder / "my_people"
    shutil.copytree(ROOT / "examples" / "people", people)
    for mask in (people / "masks").glob("*.png"):  # the 0/255 kind most tools write
        ids = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(mask), np.where(ids == 1, 255, 0).astype(np.uint8))
    return folder


def _write_clip(path: Path, photo: np.ndarray, frames: int = 6) -> None:
    """A few H.264 frames of the photo sliding sideways."""
    import av

    small = cv2.resize(photo, (160, 160))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 160, "yuv420p"
        for index in range(frames):
            frame = np.roll(small, 4 * index, axis=1)[..., ::-1].copy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def environment(cache: Path) -> dict[str, str]:
    """The reader's shell, offline: the project's Python first on PATH, one LiteRT cache for
    all pages, downloads through a proxy that refuses every connection."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DEEPLAB_CACHE_DIR"] = str(cache)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def runnable_code(block: Block) -> str:
    """The block without the lines that install or run the test suite."""
    if block.language != "bash":
        return block.code
    kept = [line for line in block.code.splitlines() if not NOT_RERUN.match(line)]
    return "\n".join(kept) + "\n"


BLOCKS = [block for page in PAGES for block in extract_blocks(page)]


def test_the_pages_have_blocks_and_the_marks_are_known():
    assert len(BLOCKS) >= 10
    for block in BLOCKS:
        skip_reason(block)  # raises on an unknown mark
    unmarked = [b for b in BLOCKS if not b.marks]
    assert len(unmarked) >= len(BLOCKS) / 2, "most documented commands must run everywhere"


def test_blocks_are_found_with_their_marks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- doc-test: needs shared, slow -->\n```bash\necho hi\n```\n"
                    "```text\nnot run\n```\n```python\nprint(1)\n```\n")
    blocks = extract_blocks(page)
    assert [(b.line, b.language, b.code, b.marks) for b in blocks] == [
        (4, "bash", "echo hi\n", ("needs shared", "slow")), (10, "python", "print(1)\n", ())]


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory):
    """One scratch folder per page (blocks of a page share it, in order), and one cache."""
    made: dict[Path, Path] = {}
    cache = tmp_path_factory.mktemp("doc_cache")

    def sandbox(page: Path) -> Path:
        if page not in made:
            made[page] = make_sandbox(tmp_path_factory.mktemp(page.stem))
        return made[page]

    return sandbox, environment(cache)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_documented_block_runs_as_written(block, sandboxes):
    reason = skip_reason(block)
    if reason:
        pytest.skip(reason)
    code = runnable_code(block)
    if not code.strip():
        pytest.skip(f"{block.name}: only installs or runs the tests")
    sandbox, env = sandboxes
    folder = sandbox(block.page)
    if block.language == "bash":
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        script = folder / f"doc_block_{block.line}.py"
        script.write_text(code)
        command = [sys.executable, script.name]
    shared = folder.parent / "shared"  # what the page calls ../shared
    if "needs shared" in block.marks and not shared.exists():
        shared.symlink_to(SHARED_DIR.resolve())
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (f"{block.name} failed (exit {done.returncode}):\n{code}\n"
                                  f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}")
    if block.language == "python":
        noise = [line for line in done.stderr.splitlines() if NOISE.match(line)]
        assert not noise, f"{block.name} printed native log noise: {noise[:3]}"
