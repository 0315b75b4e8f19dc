"""Safe reading of release archives: what is refused, what is extracted, and the error messages."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from deeplab.weights.archive import (
    choose_release_files, extract_release, find_release_files)
from deeplab.weights.errors import ArchiveError, UnsafeArchiveError


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _release_members(folder: str = "deeplabv3_mnv2_pascal_train_aug", step: str = "-30000"):
    return [_file(f"{folder}/frozen_inference_graph.pb", b"graph"),
            _file(f"{folder}/model.ckpt{step}.index", b"index"),
            _file(f"{folder}/model.ckpt{step}.data-00000-of-00001", b"data")]


def test_extracts_only_release_files(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", [*_release_members(), _file("README.txt", b"hello"),
                                           _file("deeplabv3_mnv2_pascal_train_aug/notes.md")])
    files = extract_release(archive, tmp_path / "out")
    assert files.frozen_graph.read_bytes() == b"graph"
    assert files.checkpoint_prefix.name == "model.ckpt-30000"
    assert Path(f"{files.checkpoint_prefix}.data-00000-of-00001").read_bytes() == b"data"
    written = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["frozen_inference_graph.pb", "model.ckpt-30000.data-00000-of-00001",
                       "model.ckpt-30000.index"]
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left


@pytest.mark.parametrize("name", ["/etc/evil.pb", "../evil.pb", "release/../../evil.pb",
                                  "C:/evil.pb", "release\\..\\evil.pb"])
def test_refuses_escaping_member_names(tmp_path, name):
    archive = _tar(tmp_path / "r.tar.gz", [*_release_members(), _file(name)])
    with pytest.raises(UnsafeArchiveError, match="refusing archive member"):
        extract_release(archive, tmp_path / "out")
    assert not (tmp_path / "evil.pb").exists()
    assert not (tmp_path / "out" / "deeplabv3_mnv2_pascal_train_aug").exists() or not list(
        (tmp_path / "out").rglob("evil.pb"))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_refuses_links(tmp_path, kind):
    link = tarfile.TarInfo("deeplabv3_mnv2_pascal_train_aug/frozen_inference_graph.pb")
    link.type = kind
    link.linkname = "/etc/passwd"
    archive = _tar(tmp_path / "r.tar.gz", [(link, None)])
    with pytest.raises(UnsafeArchiveError, match="link"):
        extract_release(archive, tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_refuses_devices(tmp_path, kind):
    device = tarfile.TarInfo("deeplabv3_mnv2_pascal_train_aug/dev")
    device.type = kind
    archive = _tar(tmp_path / "r.tar.gz", [*_release_members(), (device, None)])
    with pytest.raises(UnsafeArchiveError, match="device or FIFO"):
        extract_release(archive, tmp_path / "out")


def test_refuses_oversized_member(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", [_file("r/frozen_inference_graph.pb", b"x" * 2000)])
    with pytest.raises(UnsafeArchiveError, match="over the 1000-byte limit"):
        extract_release(archive, tmp_path / "out", max_member_bytes=1000)
    files = extract_release(archive, tmp_path / "ok", max_member_bytes=2000)
    assert files.frozen_graph.stat().st_size == 2000


def test_truncated_archive_is_one_line_error(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", [_file("r/frozen_inference_graph.pb",
                                                 bytes(range(256)) * 4000)])
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="truncated or corrupt") as caught:
        extract_release(truncated, tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert "expected a DeepLab release" in str(caught.value)
    # nothing half-written is left behind, not even a temporary file
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


@pytest.mark.parametrize("content", [b"", b"this is not an archive at all" * 50,
                                     gzip.compress(b"gzip but not tar" * 100)])
def test_corrupt_archive(tmp_path, content):
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match="expected a DeepLab release"):
        extract_release(path, tmp_path / "out")


def test_non_deeplab_archive_says_what_was_expected(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", [_file("photos/cat.jpg"), _file("photos/dog.jpg"),
                                           _file("model/weights.h5")])
    with pytest.raises(ArchiveError) as caught:
        extract_release(archive, tmp_path / "out")
    message = str(caught.value)
    assert "expected a DeepLab release archive containing */frozen_inference_graph.pb" in message
    assert "model.ckpt*.index" in message and "photos/cat.jpg" in message
    assert "\n" not in message


def test_checkpoint_without_data_shard_is_not_a_release(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", [_file("r/model.ckpt.index")])
    with pytest.raises(ArchiveError, match="found: r/model.ckpt.index"):
        extract_release(archive, tmp_path / "out")


def test_missing_archive(tmp_path):
    with pytest.raises(ArchiveError, match="no such archive"):
        extract_release(tmp_path / "absent.tar.gz", tmp_path / "out")


def test_choose_release_files_prefers_registered_members_then_latest_step():
    files = ["r/model.ckpt-100.index", "r/model.ckpt-100.data-00000-of-00001",
             "r/model.ckpt-2000.index", "r/model.ckpt-2000.data-00000-of-00001",
             "r/model.ckpt-30.index", "r/frozen_inference_graph.pb"]
    assert choose_release_files(files) == ("r/frozen_inference_graph.pb", "r/model.ckpt-2000")
    assert choose_release_files(files, checkpoint_member="r/model.ckpt-100")[1] == \
        "r/model.ckpt-100"
    # a sharded checkpoint counts only when every shard is there
    sharded = ["m.index", "m.data-00000-of-00002"]
    assert choose_release_files(sharded) == (None, None)
    assert choose_release_files([*sharded, "m.data-00001-of-00002"]) == (None, "m")
    # a lone graph under another name is accepted; a SavedModel is not a frozen graph
    assert choose_release_files(["x/portrait.pb"])[0] == "x/portrait.pb"
    assert choose_release_files(["x/saved_model.pb"])[0] is None


def test_find_release_files_in_folder_or_parent(tmp_path):
    release = tmp_path / "deeplabv3_mnv2_pascal_train_aug"
    release.mkdir()
    (release / "frozen_inference_graph.pb").write_bytes(b"g")
    (release / "model.ckpt.index").write_bytes(b"i")
    (release / "model.ckpt.data-00000-of-00001").write_bytes(b"d")
    for folder in (release, tmp_path):
        files = find_release_files(folder)
        assert files.frozen_graph == release / "frozen_inference_graph.pb"
        assert files.checkpoint_prefix == release / "model.ckpt"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArchiveError, match="expected a DeepLab release folder"):
        find_release_files(empty)
