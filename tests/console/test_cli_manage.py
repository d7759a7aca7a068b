"""`kat org|plugin|setting|user` on the files and against a KATalogus over HTTP: the
same results and the same errors, JSON with --json."""

from __future__ import annotations

import json
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import yaml

from kat.cli import main
from kat.config import load
from kat.katalogus.app import create_app


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def api(env, monkeypatch):
    """The KATalogus on a loopback port; the CLI pointed at it with the token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, create_app(load(env)), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KATALOGUS_API", f"http://127.0.0.1:{port}")
    yield
    server.shutdown()
    server.server_close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("mode", ["files", "api"])
def test_org_plugin_and_setting_commands(mode, env, capsys, request):
    if mode == "api":
        request.getfixturevalue("api")
    code, out, _ = run(capsys, "org", "create", "beta", "--name", "Beta", "--json")
    assert code == 0 and json.loads(out) == {"id": "beta", "name": "Beta"}
    code, out, _ = run(capsys, "org", "list", "--json")
    assert [o["id"] for o in json.loads(out)] == ["acme", "beta"]
    code, out, _ = run(capsys, "org", "create", "beta", "--json")
    assert code == 2 and json.loads(out) == {"error": "organisation 'beta' already exists"}

    code, out, _ = run(capsys, "plugin", "enable", "--org", "beta", "port-scan")
    assert code == 0 and out == "port-scan enabled for beta\n"
    code, out, _ = run(capsys, "plugin", "list", "--org", "beta", "--json")
    states = {p["id"]: p["enabled"] for p in json.loads(out)}
    assert states["port-scan"] is True and states["service_banner"] is False
    code, out, _ = run(capsys, "plugin", "list", "--org", "beta", "--type", "boefje")
    assert "on  boefje      port-scan" in out

    scan = ("--org", "beta", "port-scan")
    code, out, _ = run(capsys, "setting", "set", *scan, "PORTS", "x", "--json")
    assert code == 2
    assert json.loads(out)["error"] == (
        "settings of port-scan: PORTS: does not satisfy 'pattern' '^[0-9,\\\\- ]*$'"
    )
    code, out, _ = run(capsys, "setting", "set", "--org", "beta", "port-scan", "CONCURRENCY", "5")
    assert code == 0
    code, out, _ = run(capsys, "setting", "get", *scan, "CONCURRENCY", "--json")
    assert json.loads(out) == {"value": 5}  # typed by the schema: an integer
    code, out, _ = run(capsys, "setting", "list", "--org", "beta", "port-scan")
    assert out == "CONCURRENCY=5\n"
    code, out, _ = run(capsys, "setting", "rm", "--org", "beta", "port-scan", "CONCURRENCY")
    assert code == 0
    code, out, err = run(capsys, "setting", "get", "--org", "beta", "port-scan", "CONCURRENCY")
    assert code == 2 and "has no setting 'CONCURRENCY'" in err
    code, out, err = run(capsys, "plugin", "list", "--org", "nope")
    assert code == 2 and err == "kat: error: organisation 'nope' does not exist\n"
    code, out, _ = run(capsys, "org", "rm", "beta", "--json")
    assert code == 0 and json.loads(out) == {"removed": "beta"}


def test_api_mode_says_when_the_token_is_wrong(env, api, capsys, monkeypatch):
    monkeypatch.setenv("KATALOGUS_API_TOKEN", "wrong")
    code, out, _ = run(capsys, "org", "list", "--json")
    assert code == 2 and "KATALOGUS_API_TOKEN is missing or wrong" in json.loads(out)["error"]


def test_usage_errors_are_json_with_json(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["org", "list", "--no-such-flag", "--json"])
    out, err = capsys.readouterr()
    assert stopped.value.code == 2
    assert json.loads(out)["error"].endswith("unrecognized arguments: --no-such-flag")
    assert err == ""


def test_user_add_hashes_the_password(env, capsys, monkeypatch):
    monkeypatch.setenv("KAT_USER_PASSWORD", "a long enough password")
    code, out, _ = run(capsys, "user", "add", "olga", "--role", "operator", "--json")
    assert code == 0 and json.loads(out) == {"name": "olga", "role": "operator"}
    path = load(env).catalogue_dir / "users.yaml"
    entry = yaml.safe_load(path.read_text())["users"]["olga"]
    assert entry["role"] == "operator" and entry["hash"].startswith("$argon2id$")
    assert "a long enough password" not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    code, _, err = run(capsys, "user", "add", "olga", "--role", "viewer")
    assert code == 2 and "exists" in err
    monkeypatch.setenv("KAT_USER_PASSWORD", "short")
    code, _, err = run(capsys, "user", "add", "pim", "--role", "viewer")
    assert code == 2 and "at least 12 characters" in err
    with pytest.raises(SystemExit) as stopped:
        main(["user", "add", "pim", "--role", "admin"])
    assert stopped.value.code == 2 and "invalid choice: 'admin'" in capsys.readouterr().err
