"""The file-backed catalogue: what a worker reads and what a person sees in git."""

from __future__ import annotations

import logging
import re

import pytest
import yaml

from kat.catalogue import (
    BrokenFile,
    Catalogue,
    Exists,
    Forbidden,
    InvalidId,
    InvalidValue,
    SealedValueError,
    UnknownOrganisation,
    UnknownSetting,
    open_reader,
)
from kat.catalogue.sealing import Sealer, generate
from kat.config import load


def test_reader_gives_explicit_state_and_settings(tmp_path):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme", "Acme Corporation")
    cat.set_enabled("acme", "dns-records", True)
    cat.put_setting("acme", "dns-records", "RECORD_TYPES", "A,AAAA")
    reader = open_reader(load({"KAT_CATALOGUE_DIR": str(tmp_path)}))
    assert reader.plugin_state("acme", "dns-records") == (True, {"RECORD_TYPES": "A,AAAA"})
    assert reader.plugin_state("acme", "other") == (None, {})
    assert reader.organisations() == ["acme"]
    with pytest.raises(UnknownOrganisation):
        reader.plugin_state("nobody", "dns-records")


def test_file_format_is_the_documented_one(tmp_path):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme", "Acme Corporation")
    cat.put_setting("acme", "dns-records", "RECORD_TYPES", "A,AAAA,MX")
    cat.set_enabled("acme", "dns-records", True)
    assert (tmp_path / "organisations" / "acme.yaml").read_text() == (
        "id: acme\n"
        "name: Acme Corporation\n"
        "plugins:\n"
        "  dns-records:\n"
        "    enabled: true\n"
        "    settings:\n"
        "      RECORD_TYPES: A,AAAA,MX\n"
    )


def test_a_change_touches_only_its_line(tmp_path):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    for key in ("A", "B", "C"):
        cat.put_setting("acme", "p", key, "x" * 200)
    path = tmp_path / "organisations" / "acme.yaml"
    before = path.read_text().splitlines()
    cat.put_setting("acme", "p", "B", "changed")
    after = path.read_text().splitlines()
    assert len(before) == len(after)
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ("      B: " + "x" * 200, "      B: changed")
    ]


def test_sealed_values_are_opened_and_unchanged_ones_keep_their_ciphertext(tmp_path):
    public, private = generate()
    cat = Catalogue(tmp_path, Sealer(public, [private]))
    cat.create_organisation("acme")
    cat.put_setting("acme", "p", "TOKEN", "hunter2")
    cat.put_setting("acme", "p", "PORT", 8443)
    text = (tmp_path / "organisations" / "acme.yaml").read_text()
    assert "hunter2" not in text and "sealed:" in text
    cat.put_setting("acme", "p", "PORT", 8444)
    cat.put_setting("acme", "p", "TOKEN", "hunter2")
    after = (tmp_path / "organisations" / "acme.yaml").read_text()
    token_line = [line for line in text.splitlines() if "TOKEN" in line]
    assert token_line == [line for line in after.splitlines() if "TOKEN" in line]
    assert cat.settings("acme", "p") == {"TOKEN": "hunter2", "PORT": 8444}


def test_missing_or_wrong_private_key_names_the_variable(tmp_path):
    public, private = generate()
    Catalogue(tmp_path, Sealer(public, [private])).create_organisation("acme")
    Catalogue(tmp_path, Sealer(public, [private])).put_setting("acme", "p", "T", "v")
    env = {"KAT_CATALOGUE_DIR": str(tmp_path)}
    with pytest.raises(SealedValueError, match="KATALOGUS_PRIVATE_KEY"):
        open_reader(load(env)).plugin_state("acme", "p")
    other_public, other_private = generate()
    env.update(KATALOGUS_PUBLIC_KEY=other_public, KATALOGUS_PRIVATE_KEY=other_private)
    with pytest.raises(SealedValueError, match="KATALOGUS_PRIVATE_KEY"):
        open_reader(load(env)).plugin_state("acme", "p")


def test_plaintext_written_by_hand_is_still_read(tmp_path):
    public, private = generate()
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "acme.yaml").write_text(
        "id: acme\nname: Acme\nplugins:\n  p:\n    settings:\n      PORT: 53\n"
    )
    assert Catalogue(tmp_path, Sealer(public, [private])).settings("acme", "p") == {"PORT": 53}


def test_broken_hand_edit_keeps_the_last_good_state(tmp_path, caplog):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    cat.set_enabled("acme", "p", True)
    path = tmp_path / "organisations" / "acme.yaml"
    path.write_text("id: acme\nname: Acme\nplugins:\n  p:\n    enabled: maybe\n")
    with caplog.at_level(logging.ERROR):
        assert cat.plugin_state("acme", "p") == (True, {})
    assert "acme.yaml:5: enabled must be true or false" in caplog.text
    with pytest.raises(BrokenFile, match="acme.yaml:5"):
        cat.set_enabled("acme", "p", False)  # never overwrites a person's unfinished edit
    fresh = Catalogue(tmp_path)
    with pytest.raises(BrokenFile, match="acme.yaml:5"):
        fresh.plugin_state("acme", "p")
    assert fresh.organisations() == []
    path.write_text("id: acme\nname: Acme\nplugins:\n  p:\n    enabled: false\n")
    assert cat.plugin_state("acme", "p") == (False, {})


@pytest.mark.parametrize("bad", ["../etc", "a/b", "x\x00", ".hidden", "a..b", "a" * 65, ""])
def test_ids_that_could_escape_are_refused(tmp_path, bad):
    cat = Catalogue(tmp_path)
    with pytest.raises(InvalidId):
        cat.create_organisation(bad)
    with pytest.raises(InvalidId):
        cat.plugin_state(bad, "p")
    assert not any(tmp_path.rglob("*.yaml"))


def test_writer_errors(tmp_path):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    with pytest.raises(Exists):
        cat.create_organisation("acme")
    cat.put_setting("acme", "p", "K", "v", create=True)
    with pytest.raises(Exists):
        cat.put_setting("acme", "p", "K", "w", create=True)
    with pytest.raises(UnknownSetting):
        cat.delete_setting("acme", "p", "NOPE")
    with pytest.raises(InvalidValue):
        cat.put_setting("acme", "p", "not a name", "v")
    with pytest.raises(InvalidValue, match="kat seal"):
        cat.put_setting("acme", "p", "K", "sealed:abc:def")
    cat.create_repository("LOCAL", "Local", "file:plugins")
    with pytest.raises(Forbidden):
        cat.delete_repository("LOCAL")
    cat.delete_setting("acme", "p", "K")
    assert yaml.safe_load((tmp_path / "organisations" / "acme.yaml").read_text()) == {
        "id": "acme",
        "name": "acme",
    }
    cat.delete_organisation("acme")
    with pytest.raises(UnknownOrganisation):
        cat.delete_organisation("acme")


def test_a_file_that_stops_being_utf8_keeps_its_last_good_state_and_refuses_writes(
    tmp_path, caplog
):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    cat.set_enabled("acme", "p", True)
    path = tmp_path / "organisations" / "acme.yaml"
    path.write_bytes(b"id: acme\nname: Acme\n# caf\xe9\nplugins:\n  p:\n    enabled: false\n")
    with caplog.at_level(logging.ERROR):
        assert cat.plugin_state("acme", "p") == (True, {})
    assert "acme.yaml:3: not UTF-8 text" in caplog.text
    with pytest.raises(BrokenFile, match="acme.yaml:3: not UTF-8 text"):
        cat.set_enabled("acme", "p", False)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-01-01", "a YAML date, not a JSON value"),
        ("2024-01-01T10:00:00", "a YAML datetime, not a JSON value"),
        ("!!binary aGk=", "a YAML bytes, not a JSON value"),
        (".nan", "not a finite number"),
        ("[1, {2: 3}]", "a mapping with a key that is not a string"),
    ],
)
def test_setting_values_that_are_not_json_are_reported_with_their_line(tmp_path, value, reason):
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "acme.yaml").write_text(
        f"id: acme\nname: Acme\nplugins:\n  p:\n    settings:\n      OK: 1\n      X: {value}\n"
    )
    with pytest.raises(BrokenFile, match=f"acme.yaml:7: setting X: {re.escape(reason)}"):
        Catalogue(tmp_path).settings("acme", "p")


def test_values_the_api_could_not_serve_are_refused_before_writing(tmp_path):
    import datetime

    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    before = (tmp_path / "organisations" / "acme.yaml").read_text()
    deep: list = []
    for _ in range(40):
        deep = [deep]
    for bad in (datetime.date(2024, 1, 1), float("inf"), deep, {"a": b"x"}):
        with pytest.raises(InvalidValue, match="setting K: "):
            cat.put_setting("acme", "p", "K", bad)
    assert (tmp_path / "organisations" / "acme.yaml").read_text() == before


def test_a_write_with_sealing_off_keeps_the_other_values_sealed(tmp_path):
    public, private = generate()
    sealing = Catalogue(tmp_path, Sealer(public, [private]))
    sealing.create_organisation("acme")
    sealing.put_setting("acme", "p", "TOKEN", "s3cret")
    env = {"KAT_CATALOGUE_DIR": str(tmp_path), "KATALOGUS_PRIVATE_KEY": private}
    opener = Catalogue.from_settings(load(env))  # encryption off, the private key set
    opener.put_setting("acme", "p", "PORT", 53)
    text = (tmp_path / "organisations" / "acme.yaml").read_text()
    assert "s3cret" not in text and "TOKEN: sealed:" in text and "PORT: 53" in text
    assert opener.settings("acme", "p") == {"TOKEN": "s3cret", "PORT": 53}


def test_a_file_deleted_by_hand_during_a_write_is_unknown_not_a_traceback(tmp_path):
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    path = tmp_path / "organisations" / "acme.yaml"

    def rename_while_someone_deletes_the_file(org):
        path.unlink()  # a person's `rm` (or a `git checkout`) between read and write
        org["name"] = "Acme"

    with pytest.raises(UnknownOrganisation, match="acme"):
        cat.update("acme", rename_while_someone_deletes_the_file)
    assert not path.exists()


def test_a_write_keeps_the_mode_an_operator_gave_the_file(tmp_path):
    """An organisation file made private (plaintext settings, sealing off) stays private."""
    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    path = tmp_path / "organisations" / "acme.yaml"
    assert path.stat().st_mode & 0o777 == 0o644  # new files: readable, as in a git checkout
    path.chmod(0o600)
    cat.put_setting("acme", "p", "TOKEN", "s3cret")
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("depth", [600, 900])
def test_a_file_nested_too_deep_for_the_parser_is_a_broken_file(tmp_path, depth):
    """libyaml stops at 1,000 levels, but Python's recursion limit comes first."""
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "acme.yaml").write_text(
        "id: acme\nname: Acme\nplugins:\n  p:\n    settings:\n      X: "
        + "[" * depth
        + "]" * depth
        + "\n"
    )
    with pytest.raises(BrokenFile, match="acme.yaml"):
        Catalogue(tmp_path).settings("acme", "p")


@pytest.mark.parametrize(
    "value", ["9" * 5000, "!!timestamp 2024-13-45", "!!float not-a-secret-number", "!!int x"]
)
def test_a_value_yaml_cannot_construct_is_a_broken_file_naming_no_value(tmp_path, caplog, value):
    (tmp_path / "organisations").mkdir()
    (tmp_path / "organisations" / "acme.yaml").write_text(
        f"id: acme\nname: Acme\nplugins:\n  p:\n    settings:\n      X: {value}\n"
    )
    with caplog.at_level(logging.ERROR), pytest.raises(BrokenFile, match="acme.yaml") as info:
        Catalogue(tmp_path).settings("acme", "p")
    assert "not-a-secret" not in str(info.value) and "not-a-secret" not in caplog.text


def test_an_api_write_keeps_the_order_a_person_wrote(tmp_path):
    """Plugins and settings stay where a person put them; only the changed line differs,
    and a new setting goes at the end of its plugin."""
    folder = tmp_path / "organisations"
    folder.mkdir()
    path = folder / "acme.yaml"
    path.write_text(
        "id: acme\n"
        "name: Acme\n"
        "plugins:\n"
        "  ssl-certificates:\n"
        "    enabled: true\n"
        "  dns-records:\n"
        "    settings:\n"
        "      ZONE: example.com\n"
        "      API_TOKEN: t\n"
        "      MAX: 3\n"
        "  a-plugin:\n"
        "    enabled: false\n"
    )
    before = path.read_text().splitlines()
    cat = Catalogue(tmp_path)
    cat.put_setting("acme", "dns-records", "API_TOKEN", "changed")
    after = path.read_text().splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ("      API_TOKEN: t", "      API_TOKEN: changed")
    ]
    cat.put_setting("acme", "dns-records", "ADDED", 1)
    cat.set_enabled("acme", "dns-records", True)
    assert path.read_text().splitlines()[5:12] == [
        "  dns-records:",
        "    enabled: true",
        "    settings:",
        "      ZONE: example.com",
        "      API_TOKEN: changed",
        "      MAX: 3",
        "      ADDED: 1",
    ]
    cat.replace_settings("acme", "dns-records", {"NEW": "n", "MAX": 4, "ZONE": "z"})
    assert list(cat.settings("acme", "dns-records")) == ["ZONE", "MAX", "NEW"]
    assert list(yaml.safe_load(path.read_text())["plugins"]) == [
        "ssl-certificates",
        "dns-records",
        "a-plugin",
    ]


def test_changes_queued_during_a_write_are_written_together_and_fail_alone(tmp_path):
    """Group commit: what threads queue while the lock is held goes out in one write;
    a change that fails is left out and only its caller gets the error."""
    import threading
    import time

    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")
    cat.put_setting("acme", "p", "TAKEN", "first")
    writes = []
    store = cat.orgs.store
    cat.orgs.store = lambda *a, **k: (writes.append(a[0]), store(*a, **k))[1]
    outcomes: dict[str, object] = {}

    def put(key: str, create: bool) -> None:
        try:
            cat.put_setting("acme", "p", key, f"value-{key}", create=create)
            outcomes[key] = "ok"
        except Exception as exc:
            outcomes[key] = type(exc).__name__

    keys = [f"K{n}" for n in range(8)]
    with cat.locked():  # a write in progress (another thread, process or person)
        threads = [threading.Thread(target=put, args=(k, False)) for k in keys]
        threads.append(threading.Thread(target=put, args=("TAKEN", True)))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while sum(map(len, cat._commits._pending.values())) < len(threads):
            assert time.monotonic() < deadline, "the changes were not queued"
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes == {**dict.fromkeys(keys, "ok"), "TAKEN": "Exists"}
    assert writes == ["acme"]  # nine changes, one write
    assert cat.settings("acme", "p") == {
        "TAKEN": "first",
        **{k: f"value-{k}" for k in keys},
    }


def test_many_writers_lose_nothing(tmp_path):
    import threading

    cat = Catalogue(tmp_path)
    cat.create_organisation("acme")

    def writer(n: int) -> None:
        for i in range(15):
            cat.put_setting("acme", "p", f"W{n}_{i}", i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(cat.settings("acme", "p")) == 90
    assert len(Catalogue(tmp_path).settings("acme", "p")) == 90


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("- a list\n", 1, "the file must be a mapping with id, name and plugins"),
        ("id: acme\nname: A\ncolour: red\n", 3, "unknown key 'colour' (use id, name, plugins)"),
        ("id: other\n", 1, "id must be 'acme', the file's name"),
        ("name: A\n", 1, "id must be 'acme', the file's name"),
        ("id: acme\nname: [1]\n", 2, "name must be a string"),
        ("id: acme\nname: true\n", 2, "name must be a string"),
        ("id: acme\nplugins: [dns]\n", 2, "plugins must be a mapping of plugin id to state"),
        ("id: acme\nplugins:\n  ok: {}\n  ../x: {}\n", 4, "plugin id '../x' does not match"),
        ("id: acme\nplugins:\n  a..b: {}\n", 3, "plugin id 'a..b' does not match"),
        ("id: acme\nplugins:\n  dns:\n    colour: red\n", 4, "a plugin takes only enabled and"),
        ("id: acme\nplugins:\n  dns: 3\n", 3, "a plugin takes only enabled and settings"),
        ("id: acme\nplugins:\n  dns:\n    enabled: 'yes'\n", 4, "enabled must be true or false"),
        ("id: acme\nplugins:\n  dns:\n    settings: [1]\n", 4, "settings must be a mapping"),
        ("id: acme\nplugins:\n  dns:\n    settings:\n      A: 1\n      bad-name: 1\n", 6,
         "setting name 'bad-name' is not valid"),
        ("id: acme\nplugins:\n  dns:\n    settings:\n      WHEN: 2024-01-01\n", 5,
         "setting WHEN: a YAML date, not a JSON value: quote it"),
    ],
)  # fmt: skip
def test_what_an_organisation_file_may_hold_is_said_with_its_line(tmp_path, text, line, reason):
    folder = tmp_path / "organisations"
    folder.mkdir()
    (folder / "acme.yaml").write_text(text)
    with pytest.raises(BrokenFile) as caught:
        Catalogue(tmp_path).organisation("acme")
    assert f"acme.yaml:{line}: {reason}" in str(caught.value)


def test_hand_written_numbers_are_the_text_people_meant(tmp_path):
    folder = tmp_path / "organisations"
    folder.mkdir()
    (folder / "2024.yaml").write_text("id: 2024\nname: 7\nplugins:\n  2025:\n    enabled: true\n")
    cat = Catalogue(tmp_path)
    assert cat.organisation("2024") == {"id": "2024", "name": "7"}
    assert cat.enabled_states("2024") == {"2025": True}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("id: extra\nname: X\nbase_url: 3\n", 3, "base_url must be a string"),
        ("id: extra\nowner: me\n", 2, "unknown key 'owner' (use id, name, base_url)"),
        ("id: nope\n", 1, "id must be 'extra', the file's name"),
    ],
)
def test_what_a_repository_file_may_hold_is_said_with_its_line(tmp_path, text, line, reason):
    folder = tmp_path / "repositories"
    folder.mkdir()
    (folder / "extra.yaml").write_text(text)
    with pytest.raises(BrokenFile) as caught:
        Catalogue(tmp_path).repository("extra")
    assert f"extra.yaml:{line}: {reason}" in str(caught.value)


def test_a_write_opens_each_sealed_value_at_most_once_and_seals_only_the_change(tmp_path):
    """1,200 sealed settings once made each PUT open every value twice and check the
    whole file again under the lock; the server's catalogue remembers what it opened."""
    public, private = generate()
    sealer = Sealer(public, [private])
    calls = {"open": 0, "seal": 0}
    for name in calls:
        original = getattr(sealer, name)

        def counted(value, _original=original, _name=name):
            calls[_name] += 1
            return _original(value)

        setattr(sealer, name, counted)
    values = {f"KEY_{n:04d}": f"secret-{n}" for n in range(1200)}
    Catalogue(tmp_path, sealer).create_organisation("acme")
    Catalogue(tmp_path, sealer).replace_settings("acme", "p", values)
    path = tmp_path / "organisations" / "acme.yaml"
    before = path.read_text().splitlines()

    calls.update(open=0, seal=0)
    Catalogue(tmp_path, sealer).put_setting("acme", "p", "KEY_0007", "changed")
    assert calls == {"open": 1200, "seal": 1}  # once each, not twice
    server = Catalogue(tmp_path, sealer, remember_opened=True)
    server.settings("acme", "p")
    calls.update(open=0, seal=0)
    for n in range(3):
        server.put_setting("acme", "p", "KEY_0009", f"again-{n}")
    assert calls == {"open": 0, "seal": 3}
    assert server.get_setting("acme", "p", "KEY_0009") == "again-2"
    after = path.read_text().splitlines()
    changed = [n for n, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert [after[n].split(":")[0].strip() for n in changed] == ["KEY_0007", "KEY_0009"]
