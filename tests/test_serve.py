"""``machmeter serve`` (commands/serve.py) and the preview server (site/serve.py): --no-build serves the
site already built and refuses a folder without one; the server prints where it serves, stops on Ctrl-C
and logs no request."""

from __future__ import annotations

import http.server
import urllib.request

import pytest

from machmeter.cli import main
from machmeter.site import serve


@pytest.fixture
def served(monkeypatch):
    calls = []
    monkeypatch.setattr(serve, "serve_forever", lambda folder, host, port: calls.append((folder, host, port)))
    return calls


def test_no_build_serves_the_site_already_there(tmp_path, served):
    (tmp_path / "index.html").write_text("<html></html>")
    assert main(["serve", "--no-build", "--output", str(tmp_path), "--host", "127.0.0.2", "--port", "8123"]) == 0
    assert served == [(str(tmp_path), "127.0.0.2", 8123)]


def test_no_build_without_a_site_is_one_line_and_serves_nothing(tmp_path, served, capsys):
    assert main(["serve", "--no-build", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"machmeter serve: error: {tmp_path}: no site there (run machmeter site, or drop --no-build)\n"
    assert served == []


def test_without_no_build_a_bad_config_is_one_line_and_serves_nothing(tmp_path, served, capsys):
    assert main(["serve", "--config", str(tmp_path / "asv.conf.json"), "--output", str(tmp_path / "site")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and served == []


def test_serve_forever_says_where_and_stops_on_ctrl_c(tmp_path, monkeypatch, capsys):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(http.server.ThreadingHTTPServer, "serve_forever", interrupted)
    serve.serve_forever(str(tmp_path), "127.0.0.1", 0)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"machmeter: serving {tmp_path} at http://127.0.0.1:") and out[-1] == "machmeter: stopped"
    port = int(out[0].split("127.0.0.1:")[1].split("/")[0])
    assert port > 0  # port 0 asks for a free one, and the real one is printed


def test_requests_are_not_logged(tmp_path, capsys):
    (tmp_path / "index.html").write_text("hello")
    server = serve.start_server(str(tmp_path))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/index.html") as response:
            assert response.read() == b"hello"
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert "GET /index.html" not in captured.out + captured.err
