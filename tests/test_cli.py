"""The `nextrl` command."""

import json
import subprocess
import sys

import pytest

import nextrl
from nextrl.cli import main


def test_info_json_matches_build_info(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == json.loads(json.dumps(nextrl.build_info()))
    assert info["simd"] in info["simd_compiled"]
    assert info["threads"] >= 1


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "nextrl.cli", "info", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["version"] == nextrl.__version__


def test_unknown_command_lists_choices(capsys):
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert "invalid choice" in capsys.readouterr().err


def test_bench_rejects_bad_threads(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--threads", "0"])
    assert "--threads must be >= 1" in capsys.readouterr().err
