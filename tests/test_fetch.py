"""The downloader against a loopback HTTP server: sha256, resume, refusals."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zoo.cli import main
from zoo.data.fetch import DATASETS, fetch, fetch_file

PAYLOAD = bytes(range(256)) * 400  # 100 kB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    honour_range = True
    requests = []

    def do_GET(self):  # noqa: N802
        type(self).requests.append((self.path, self.headers.get("Range")))
        body, status = PAYLOAD, 200
        ranged = self.headers.get("Range")
        if ranged and self.honour_range:
            start = int(ranged.removeprefix("bytes=").split("-")[0])
            body, status = PAYLOAD[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.requests, Handler.honour_range = [], True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_and_renames(server, tmp_path):
    path = fetch_file(f"{server}/f.bin", tmp_path / "f.bin", SHA, verbose=False)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    fetch_file(f"{server}/f.bin", tmp_path / "f.bin", SHA, verbose=False)  # verified: no fetch
    assert len(Handler.requests) == 1


@pytest.mark.parametrize("honour_range", [True, False])
def test_resumes_a_partial_file(server, tmp_path, honour_range):
    Handler.honour_range = honour_range
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:30000])
    path = fetch_file(f"{server}/f.bin", tmp_path / "f.bin", SHA, verbose=False)
    assert path.read_bytes() == PAYLOAD
    assert Handler.requests == [("/f.bin", "bytes=30000-")]


def test_checksum_mismatch_removes_the_partial_file(server, tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        fetch_file(f"{server}/f.bin", tmp_path / "f.bin", "0" * 64, verbose=False)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_dataset_fetch_from_a_mirror(server, tmp_path):
    names = [remote.name for remote in DATASETS["isbi2012"]]
    with pytest.raises(ValueError, match="no pinned sha256"):
        fetch("isbi2012", tmp_path, base_url=server)
    paths = fetch("isbi2012", tmp_path, base_url=server, checksums=dict.fromkeys(names, SHA),
                  verbose=False)
    assert [p.name for p in paths] == names and all(p.read_bytes() == PAYLOAD for p in paths)
    with pytest.raises(ValueError, match="unknown data set"):
        fetch("isbi2013", tmp_path)


def test_cli_fetch(server, tmp_path, capsys):
    args = ["data", "fetch", "isbi2012", "--to", str(tmp_path), "--base-url", server,
            "--allow-unverified"]
    assert main(args) == 0
    assert "train-volume.tif" in capsys.readouterr().out
    refused = ["data", "fetch", "isbi2012", "--to", str(tmp_path / "new"), "--base-url", server]
    assert main(refused) == 2
    assert "no pinned sha256" in capsys.readouterr().err


def test_a_failed_fetch_names_the_url_and_leaves_no_empty_folder(server, tmp_path, capsys):
    refused = "http://127.0.0.1:9"  # nothing listens on the discard port
    args = ["data", "fetch", "isbi2012", "--to", str(tmp_path / "new" / "isbi"), "--base-url",
            refused, "--allow-unverified"]
    assert main(args) == 2
    assert f"could not download {refused}/train-volume.tif" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    # a partial download is kept (it resumes), and so is its folder
    partial = tmp_path / "kept" / "train-volume.tif.part"
    partial.parent.mkdir()
    partial.write_bytes(PAYLOAD[:100])
    with pytest.raises(ConnectionError):
        fetch("isbi2012", partial.parent, base_url=refused, allow_unverified=True,
              verbose=False)
    assert partial.read_bytes() == PAYLOAD[:100]
