"""The README's first screen and .ci/run stay in lockstep (issue 13): exactly two commands, one that installs
and runs the main job and one that installs and runs every test, both in .venv, and CI runs the second one
verbatim. Both use the same build tools without build isolation, so the second reuses the first's build/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_screen_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md: no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_first_screen_has_two_commands_in_a_venv():
    commands = _first_screen_commands()
    assert len(commands) == 2, commands
    main, test = commands
    assert main.endswith("&& nextrl bench"), main
    assert test.endswith("&& pytest -q -n auto"), test
    for command in commands:
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && "), command
        assert "--no-build-isolation" in command, command
    # Everything before the extra is the same in both, so command 2 finds the same pybind11, CMake and Ninja
    # and the same compile commands: ninja has nothing to redo.
    assert main.split('".[bench]"')[0] == test.split('".[test]"')[0]


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _first_screen_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert any(line.startswith(test_command + " ") or line == test_command for line in ci.splitlines()), ci
