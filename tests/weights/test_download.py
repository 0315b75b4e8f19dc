"""The real download code against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from weights_fixtures import LocalHTTPServer

from deeplab.weights import download as download_lib
from deeplab.weights.download import cache_dir, download
from deeplab.weights.errors import ChecksumError, DownloadError, OfflineError

PAYLOAD = bytes(range(256)) * 1000  # 256 kB


@pytest.fixture
def server():
    with LocalHTTPServer() as httpd:
        yield httpd


def _fetch(url, destination, **options):
    options.setdefault("progress", False)
    options.setdefault("retry_delay", 0.0)
    options.setdefault("timeout", 10.0)
    return download(url, destination, **options)


def test_success_then_cache_hit(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    target = tmp_path / "cache" / "r.tar.gz"
    assert _fetch(server.url("/r.tar.gz"), target) == target
    assert target.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert Path(f"{target}.sha256").read_text().split()[0] == digest
    assert not Path(f"{target}.part").exists()
    assert _fetch(server.url("/r.tar.gz"), target, sha256=digest) == target
    assert len(server.requests) == 1  # the second call was a cache hit


def test_interrupted_download_leaves_no_complete_looking_file_and_resumes(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    server.behaviour["/r.tar.gz"] = "cut_once"
    target = tmp_path / "r.tar.gz"
    with pytest.raises(DownloadError, match="partial file is kept") as caught:
        _fetch(server.url("/r.tar.gz"), target, attempts=1)
    assert "--weights /path/to/r.tar.gz" in str(caught.value)
    assert not target.exists()
    partial = Path(f"{target}.part")
    assert 0 < partial.stat().st_size < len(PAYLOAD)
    _fetch(server.url("/r.tar.gz"), target, attempts=1)
    assert target.read_bytes() == PAYLOAD and not partial.exists()
    assert server.requests[-1][1] == f"bytes={len(PAYLOAD) // 3}-"  # resumed, not restarted


def test_retry_within_one_call_restarts_when_server_ignores_range(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    server.behaviour["/r.tar.gz"] = "cut_once"
    target = tmp_path / "r.tar.gz"
    _fetch(server.url("/r.tar.gz"), target, attempts=3)
    assert target.read_bytes() == PAYLOAD and len(server.requests) == 2

    server.files["/s.tar.gz"] = PAYLOAD
    server.behaviour["/s.tar.gz"] = "no_range"
    other = tmp_path / "s.tar.gz"
    Path(f"{other}.part").write_bytes(b"stale bytes from another file")
    _fetch(server.url("/s.tar.gz"), other)
    assert other.read_bytes() == PAYLOAD  # a 200 answer to a Range request restarts the file


def test_a_wrongly_resumed_download_restarts(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    server.behaviour["/r.tar.gz"] = "wrong_range"
    target = tmp_path / "r.tar.gz"
    Path(f"{target}.part").write_bytes(PAYLOAD[:1000])
    _fetch(server.url("/r.tar.gz"), target, attempts=2)
    assert target.read_bytes() == PAYLOAD
    assert [r[1] for r in server.requests] == ["bytes=1000-", None]


def test_gives_up_after_bounded_attempts(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    server.behaviour["/r.tar.gz"] = "cut_always"
    target = tmp_path / "r.tar.gz"
    with pytest.raises(DownloadError, match="after 3 attempt"):
        _fetch(server.url("/r.tar.gz"), target, attempts=3)
    assert len(server.requests) == 3 and not target.exists()


def test_checksum_mismatch_discards_download(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    target = tmp_path / "r.tar.gz"
    with pytest.raises(ChecksumError, match="does not match"):
        _fetch(server.url("/r.tar.gz"), target, sha256="0" * 64)
    assert not target.exists() and not Path(f"{target}.part").exists()
    _fetch(server.url("/r.tar.gz"), target, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert target.read_bytes() == PAYLOAD


def test_corrupted_cache_is_downloaded_again(server, tmp_path):
    server.files["/r.tar.gz"] = PAYLOAD
    target = tmp_path / "r.tar.gz"
    _fetch(server.url("/r.tar.gz"), target)
    target.write_bytes(b"bit rot")
    _fetch(server.url("/r.tar.gz"), target)
    assert target.read_bytes() == PAYLOAD and len(server.requests) == 2


def test_concurrent_downloads_of_one_file_fetch_it_once(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    server.files["/r.tar.gz"] = PAYLOAD
    target = tmp_path / "r.tar.gz"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _fetch(server.url("/r.tar.gz"), target), range(4)))
    assert results == [target] * 4 and target.read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_http_error_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        _fetch(server.url("/missing.tar.gz"), tmp_path / "missing.tar.gz", attempts=3)
    assert len(server.requests) == 1


def test_offline_error_says_how_to_pass_a_local_file(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    name = "deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz"
    with pytest.raises(OfflineError) as caught:
        _fetch(f"http://127.0.0.1:{port}/{name}", tmp_path / name, attempts=2)
    message = str(caught.value)
    assert "offline" in message and f"--weights /path/to/{name}" in message
    assert "\n" not in message
    assert not (tmp_path / name).exists()


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(download_lib.CACHE_ENV_VAR, str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv(download_lib.CACHE_ENV_VAR)
    assert cache_dir() == Path.home() / ".cache" / "deeplab"
