"""Plugin discovery: manifests, signatures and hashes, without importing plugin code."""

import json
from pathlib import Path

import pytest

from kat.catalogue.plugins import discover, normalizers_for, runnable_hash


def write_boefje(folder: Path, manifest: dict, code: str = "def run(meta):\n    return []\n"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "boefje.json").write_text(json.dumps(manifest))
    (folder / "main.py").write_text(code)


def write_normalizer(folder: Path, manifest: dict, code: str = "def run(ooi, raw):\n    yield\n"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "normalizer.json").write_text(json.dumps(manifest))
    (folder / "normalize.py").write_text(code)


def test_boefje_and_nested_normalizer_are_found(tmp_path):
    write_boefje(tmp_path / "kat_x", {"id": "x", "consumes": ["Hostname"], "scan_level": 2})
    write_normalizer(tmp_path / "kat_x" / "sub", {"id": "x_norm", "consumes": ["boefje/x"]})
    plugins, problems = discover(tmp_path)
    assert problems == []
    assert plugins["x"].type == "boefje"
    assert plugins["x"].produces == ("boefje/x",)
    assert plugins["x"].enabled is False
    assert plugins["x_norm"].enabled is True
    assert [n.id for n in normalizers_for(plugins, {"boefje/x"})] == ["x_norm"]
    assert [n.id for n in normalizers_for(plugins, {"normalizer/x_norm"})] == ["x_norm"]
    assert normalizers_for(plugins, {"boefje/x", "error/boefje"}) == []


@pytest.mark.parametrize(
    ("manifest", "code", "needle"),
    [
        ({"id": "a", "consumes": ["Hostname"]}, "def run(a, b):\n    pass\n", "exactly 1"),
        ({"id": "a", "consumes": ["Hostname"]}, "def main(a):\n    pass\n", "no top-level run"),
        ({"id": "a", "consumes": ["Hostname"]}, "def run(a:\n", "syntax error"),
        ({"id": "../a", "consumes": ["Hostname"]}, "def run(a):\n    pass\n", "id"),
        ({"id": "a", "consumes": "Hostname"}, "def run(a):\n    pass\n", "consumes"),
        ({"id": "a", "consumes": [], "scan_level": 9}, "def run(a):\n    pass\n", "scan_level"),
    ],
)
def test_bad_plugin_is_skipped_with_a_reason_naming_the_file(tmp_path, manifest, code, needle):
    write_boefje(tmp_path / "bad", manifest, code)
    write_boefje(tmp_path / "good", {"id": "good", "consumes": ["Hostname"]})
    plugins, problems = discover(tmp_path)
    assert list(plugins) == ["good"]
    assert len(problems) == 1
    assert str(tmp_path / "bad") in problems[0]
    assert needle in problems[0]


def test_invalid_json_names_the_line(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "boefje.json").write_text('{\n"id": "a",\n}')
    (tmp_path / "bad" / "main.py").write_text("def run(m):\n    pass\n")
    _, problems = discover(tmp_path)
    assert "boefje.json:3" in problems[0]


def test_duplicate_id_is_skipped(tmp_path):
    write_boefje(tmp_path / "a", {"id": "same", "consumes": ["Hostname"]})
    write_boefje(tmp_path / "b", {"id": "same", "consumes": ["Hostname"]})
    plugins, problems = discover(tmp_path)
    assert plugins["same"].path == tmp_path / "a"
    assert "already used" in problems[0]


def test_runnable_hash_follows_code_not_bytecode(tmp_path):
    write_boefje(tmp_path / "a", {"id": "a", "consumes": ["Hostname"]})
    before = runnable_hash(tmp_path / "a")
    (tmp_path / "a" / "__pycache__").mkdir()
    (tmp_path / "a" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    assert runnable_hash(tmp_path / "a") == before
    (tmp_path / "a" / "main.py").write_text("def run(meta):\n    return [1]\n")
    assert runnable_hash(tmp_path / "a") != before


def test_plugin_code_is_not_executed_by_discovery(tmp_path):
    marker = tmp_path / "ran"
    write_boefje(
        tmp_path / "a",
        {"id": "a", "consumes": ["Hostname"]},
        f"open({str(marker)!r}, 'w').close()\ndef run(meta):\n    return []\n",
    )
    plugins, _ = discover(tmp_path)
    assert "a" in plugins
    assert not marker.exists()


def test_schema_with_a_reference_to_nowhere_is_skipped(tmp_path):
    write_boefje(tmp_path / "a", {"id": "a", "consumes": ["Hostname"]})
    (tmp_path / "a" / "schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "$defs": {"port": {"type": "integer"}},
                "properties": {
                    "PORT": {"$ref": "#/$defs/port"},
                    "HOST": {"$ref": "#/$defs/missing"},
                },
            }
        )
    )
    write_boefje(tmp_path / "b", {"id": "b", "consumes": ["Hostname"]})
    (tmp_path / "b" / "schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"PORT": {"$ref": "#/$defs/port"}},
                "$defs": {"port": {"type": "integer"}},
            }
        )
    )
    plugins, problems = discover(tmp_path)
    assert list(plugins) == ["b"]
    assert problems == [
        f"{tmp_path / 'a' / 'schema.json'}: $ref '#/$defs/missing' does not resolve in this schema"
    ]
