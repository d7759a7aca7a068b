"""What a user hands a command is read with a bound and checked: a clear error and exit
code 2, never a traceback, a MemoryError or a command that never ends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kat.catalogue.sealing import generate

pytestmark = pytest.mark.timeout(60)


def kat(*args: str, stdin=None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kat", *args], env={**os.environ, **env}, stdin=stdin,
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_a_deeply_nested_job_file_is_a_usage_error(tmp_path):
    job = tmp_path / "job.json"
    job.write_text("[" * 100_000 + "]" * 100_000)
    done = kat("run", "--job", str(job), "boefje", KAT_DATA_DIR=str(tmp_path))
    assert done.returncode == 2 and "nested too deeply" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--job", "/dev/zero", "boefje"),
        ("scan", "--org", "_dev", "--inline", "@/dev/zero"),
    ],
)
def test_an_endless_file_is_refused_by_its_size(tmp_path, args):
    done = kat(*args, KAT_DATA_DIR=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "/dev/zero: the" in done.stderr and "is larger than 16,777,216 bytes" in done.stderr


def test_kat_seal_reads_standard_input_with_a_bound(tmp_path):
    public, _private = generate()
    with open("/dev/zero", "rb") as zero:
        done = kat("seal", "-", stdin=zero, KATALOGUS_PUBLIC_KEY=public)
    assert done.returncode == 2
    assert "standard input: the value is larger than 1,048,576 bytes" in done.stderr
