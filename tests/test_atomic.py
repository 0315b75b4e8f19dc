"""Atomic output: nothing half-written is ever visible, the old target survives a failure."""

import os

import pytest

from deeplab.atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_failure_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "sub" / "picture.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            assert temporary.parent == target.parent and temporary.suffix == ".png"
            temporary.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(target.parent.iterdir()) == []
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"new but broken")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["picture.png"]


def test_overwrite_false_refuses_and_text_is_utf8(tmp_path):
    target = write_text_atomic(tmp_path / "notes.txt", "grüße\n")
    assert target.read_bytes() == "grüße\n".encode()
    with pytest.raises(FileExistsError, match="notes.txt"):
        with atomic_path(target, overwrite=False):
            pass
    assert target.read_text(encoding="utf-8") == "grüße\n"


def test_output_files_get_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        target = write_bytes_atomic(tmp_path / "model.bin", b"x")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_directory_is_swapped_only_when_complete(tmp_path):
    target = tmp_path / "saved"
    with atomic_path(target, directory=True) as temporary:
        (temporary / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_path(target, directory=True) as temporary:
            (temporary / "b.txt").write_text("second")
            raise RuntimeError("check failed")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


def test_folder_replacement_swaps_in_one_step_and_keeps_the_old_for_removal(tmp_path):
    from deeplab.atomic import replace_folder

    old, new = tmp_path / "export", tmp_path / "export.new"
    old.mkdir()
    new.mkdir()
    (old / "v1.txt").write_text("old")
    (new / "v2.txt").write_text("new")
    replace_folder(new, old)
    assert [p.name for p in old.iterdir()] == ["v2.txt"]
    assert [p.name for p in new.iterdir()] == ["v1.txt"]


def test_folder_replacement_without_an_atomic_swap_puts_the_old_folder_back_on_failure(
        tmp_path, monkeypatch):
    import deeplab.atomic as atomic

    old, new = tmp_path / "export", tmp_path / "export.new"
    old.mkdir()
    new.mkdir()
    (old / "v1.txt").write_text("old")
    monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    real_replace = os.replace

    def failing_replace(source, destination):
        if str(source) == str(new):
            raise OSError(28, "No space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        atomic.replace_folder(new, old)
    assert [p.name for p in old.iterdir()] == ["v1.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "export.new"]
