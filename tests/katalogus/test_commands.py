"""`kat keys generate`, `kat seal`, `kat catalogue check` and `kat catalogue reseal`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kat.catalogue import Catalogue
from kat.catalogue.sealing import Sealer
from kat.cli import main


@pytest.fixture
def kat(monkeypatch, capsys, env):
    """Run ``kat ARGS`` in-process with the test environment; returns (code, out, err)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(*args: str, **extra: str) -> tuple[int, str, str]:
        for key, value in extra.items():
            monkeypatch.setenv(key, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def keypair(kat) -> dict[str, str]:
    code, out, _ = kat("keys", "generate")
    assert code == 0
    return dict(line.split("=", 1) for line in out.splitlines())


def test_keys_generate_prints_env_lines(kat):
    keys = keypair(kat)
    assert keys["BYTES_ENCRYPTION_MIDDLEWARE"] == "NACL_SEALBOX"
    assert keys["KATALOGUS_PUBLIC_KEY"] != keypair(kat)["KATALOGUS_PUBLIC_KEY"]
    Sealer(keys["KATALOGUS_PUBLIC_KEY"], [keys["KATALOGUS_PRIVATE_KEY"]])  # a matching pair


def test_seal_needs_only_the_public_key_and_the_catalogue_reads_it(kat, env, monkeypatch):
    keys = keypair(kat)
    monkeypatch.delenv("KATALOGUS_PRIVATE_KEY", raising=False)
    code, out, _ = kat("seal", "hunter2", KATALOGUS_PUBLIC_KEY=keys["KATALOGUS_PUBLIC_KEY"])
    assert code == 0 and out.startswith("sealed:") and "hunter2" not in out
    code, number, _ = kat("seal", "--json", "8443")
    assert code == 0
    path = Catalogue(env["KAT_CATALOGUE_DIR"]).orgs.path("_dev")
    path.write_text(
        "id: _dev\nname: Dev\nplugins:\n  dns-records:\n    settings:\n"
        f"      API_TOKEN: {out.strip()}\n      PORT: {number.strip()}\n"
    )
    reader = Catalogue(env["KAT_CATALOGUE_DIR"], Sealer(None, [keys["KATALOGUS_PRIVATE_KEY"]]))
    assert reader.settings("_dev", "dns-records") == {"API_TOKEN": "hunter2", "PORT": 8443}


def test_seal_without_public_key_is_a_clear_error(kat, monkeypatch):
    monkeypatch.delenv("KATALOGUS_PUBLIC_KEY", raising=False)
    code, _, err = kat("seal", "x")
    assert code == 2 and "KATALOGUS_PUBLIC_KEY is not set" in err and "Traceback" not in err
    code, _, err = kat("seal", "x", KATALOGUS_PUBLIC_KEY="not-base64!")
    assert code == 2 and "KATALOGUS_PUBLIC_KEY is not a base64" in err


@pytest.mark.parametrize(
    ("value", "reason"), [("NaN", "not a finite number"), ("[" * 40 + "]" * 40, "nested deeper")]
)
def test_seal_json_refuses_what_the_api_could_not_serve(kat, value, reason):
    keys = keypair(kat)
    code, out, err = kat("seal", "--json", value, KATALOGUS_PUBLIC_KEY=keys["KATALOGUS_PUBLIC_KEY"])
    assert code == 2 and reason in err and out == ""


def test_check_reports_broken_files_and_plaintext(kat, env):
    keys = keypair(kat)
    code, out, _ = kat("catalogue", "check")
    assert code == 0 and "0 errors" in out
    cat = Catalogue(env["KAT_CATALOGUE_DIR"])
    cat.create_organisation("plain")
    cat.put_setting("plain", "dns-records", "API_TOKEN", "visible")
    code, out, _ = kat("catalogue", "check", **keys)
    assert code == 0
    assert "plain.yaml: dns-records API_TOKEN is plaintext" in out
    cat.orgs.path("broken").write_text("id: broken\nname: B\nplugins:\n  x:\n    enabled: 3\n")
    cat.put_setting("plain", "dns-records", "PORT", 99999)  # breaks the plugin's schema
    code, out, _ = kat("catalogue", "check")
    assert code == 1
    assert "broken.yaml:5: enabled must be true or false" in out
    (cat.orgs.folder / "bad name.yaml").write_text("id: bad name\n")
    code, out, _ = kat("catalogue", "check")
    assert "bad name.yaml: id 'bad name' does not match" in out
    assert "plain.yaml: dns-records: PORT breaks the schema's 'maximum' rule" in out
    assert "99999" not in out


def test_check_names_a_wrong_private_key(kat, env):
    keys, other = keypair(kat), keypair(kat)
    Catalogue(env["KAT_CATALOGUE_DIR"], Sealer(keys["KATALOGUS_PUBLIC_KEY"])).put_setting(
        "_dev", "dns-records", "API_TOKEN", "t"
    )
    code, out, err = kat("catalogue", "check", **other)
    assert code == 1 and "KATALOGUS_PRIVATE_KEY" in out and "Traceback" not in out + err
    # with the public key alone the rest is checked, and it says what was not
    code, out, _ = kat("catalogue", "check", KATALOGUS_PRIVATE_KEY="")
    assert code == 0 and "KATALOGUS_PRIVATE_KEY is not set: 1 plugins' sealed settings" in out


def test_reseal_rotates_every_value_or_none(kat, env):
    old, new = keypair(kat), keypair(kat)
    root = env["KAT_CATALOGUE_DIR"]
    cat = Catalogue(root, Sealer(old["KATALOGUS_PUBLIC_KEY"], [old["KATALOGUS_PRIVATE_KEY"]]))
    cat.create_organisation("acme")
    for org in ("_dev", "acme"):
        cat.put_setting(org, "dns-records", "API_TOKEN", f"token-{org}")
        cat.put_setting(org, "dns-records", "PORT", 53)
    stranger = keypair(kat)
    Catalogue(root, Sealer(stranger["KATALOGUS_PUBLIC_KEY"])).put_setting("acme", "other", "X", "y")
    before = {p: p.read_text() for p in cat.orgs.folder.iterdir()}
    args = ("catalogue", "reseal", "--new-public-key", new["KATALOGUS_PUBLIC_KEY"])
    code, _, err = kat(*args, **old)
    assert code == 2 and "--new-private-key (or KATALOGUS_NEW_PRIVATE_KEY) is required" in err
    args = (*args, "--new-private-key", new["KATALOGUS_PRIVATE_KEY"])
    code, _, err = kat(*args, **old)
    assert code == 1 and "nothing was changed" in err
    assert {p: p.read_text() for p in cat.orgs.folder.iterdir()} == before
    # the stranger's value replaced by hand with one sealed to the old key
    path = cat.orgs.path("acme")
    lines = path.read_text().splitlines()
    sealed = Sealer(old["KATALOGUS_PUBLIC_KEY"]).seal("y")
    path.write_text("\n".join(f"      X: {sealed}" if "X: " in x else x for x in lines) + "\n")
    code, out, _ = kat(*args, KATALOGUS_PRIVATE_KEY=old["KATALOGUS_PRIVATE_KEY"])
    assert code == 0 and "resealed 5 values in 2 files" in out
    rotated = Catalogue(root, Sealer(None, [new["KATALOGUS_PRIVATE_KEY"]]))
    assert rotated.settings("acme", "dns-records") == {"API_TOKEN": "token-acme", "PORT": 53}
    assert rotated.settings("_dev", "dns-records") == {"API_TOKEN": "token-_dev", "PORT": 53}
    assert rotated.settings("acme", "other") == {"X": "y"}


def test_check_reports_a_file_that_is_not_utf8_or_not_a_file(kat, env):
    folder = Catalogue(env["KAT_CATALOGUE_DIR"]).orgs.folder
    (folder / "latin.yaml").write_bytes(b"id: latin\nname: Caf\xe9\n")
    (folder / "folder.yaml").mkdir()
    code, out, _ = kat("catalogue", "check")
    assert code == 1
    assert "latin.yaml:2: not UTF-8 text" in out
    assert "folder.yaml: cannot read: Is a directory" in out


def test_reseal_with_a_broken_file_changes_nothing_and_says_which(kat, env):
    old, new = keypair(kat), keypair(kat)
    cat = Catalogue(env["KAT_CATALOGUE_DIR"], Sealer(old["KATALOGUS_PUBLIC_KEY"]))
    cat.put_setting("_dev", "dns-records", "API_TOKEN", "t")
    broken = cat.orgs.path("zz")
    broken.write_text("id: zz\nname: Z\nplugins:\n  x:\n    enabled: maybe\n")
    before = {p: p.read_text() for p in cat.orgs.folder.iterdir()}
    args = ("--new-public-key", new["KATALOGUS_PUBLIC_KEY"])
    args = (*args, "--new-private-key", new["KATALOGUS_PRIVATE_KEY"])
    code, _, err = kat("catalogue", "reseal", *args, **old)
    assert code == 1 and "zz.yaml:5: enabled must be true or false" in err
    assert "nothing was changed" in err
    assert {p: p.read_text() for p in cat.orgs.folder.iterdir()} == before
    broken.unlink()
    # a file with no settings is left as it is, comments and all
    plain = cat.orgs.path("plain")
    plain.write_text("# kept by hand\nid: plain\nname: Plain\n")
    code, out, _ = kat("catalogue", "reseal", *args, **old)
    assert code == 0 and "resealed 1 values in 1 files" in out
    assert plain.read_text() == "# kept by hand\nid: plain\nname: Plain\n"


def test_check_reports_a_plugin_schema_with_a_dangling_ref(kat, env):
    import json
    from pathlib import Path

    folder = Path(env["KAT_PLUGINS_DIR"]) / "kat_dangling"
    folder.mkdir()
    (folder / "boefje.json").write_text(json.dumps({"id": "dangling", "consumes": ["Hostname"]}))
    (folder / "main.py").write_text("def run(boefje_meta):\n    return []\n")
    (folder / "schema.json").write_text(json.dumps({"properties": {"A": {"$ref": "#/nope"}}}))
    Catalogue(env["KAT_CATALOGUE_DIR"]).put_setting("_dev", "dangling", "A", "x")
    code, out, err = kat("catalogue", "check")
    schema = folder / "schema.json"
    assert f"plugin skipped: {schema}: $ref '#/nope' does not resolve" in out
    assert "_dev.yaml: plugin 'dangling' is not in" in out
    assert "Traceback" not in out + err


def test_python_dash_m_kat_runs_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "kat", "keys", "generate"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "KATALOGUS_PUBLIC_KEY=" in result.stdout
