"""A new user's first commands: the README's set-up lines, an unbuilt tree.

CI (``.ci/run``) runs the README's set-up commands exactly as written, each
from the root of a fresh clone; these tests guard the two pieces that makes
work: the extraction of the commands from the README, and the message of an
import from a source tree whose kernels were never compiled.
"""

import os
import pathlib
import runpy
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
needs_checkout = pytest.mark.skipif(
    not (ROOT / ".ci" / "run").is_file() or not (ROOT / "skgd").is_dir(),
    reason="runs on a checkout of the repository (README, .ci, skgd sources)",
)


@needs_checkout
def test_ci_runs_the_readme_set_up_commands_as_written():
    extractor = runpy.run_path(str(ROOT / ".ci" / "readme_commands.py"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = extractor["setup_commands"](readme)
    assert len(commands) == 2
    demo, tests = commands
    assert "python -m skgd" in demo and "pytest" in tests
    # each is one line of a bash block of the Set up section, verbatim
    section = readme.split("## Set up\n", 1)[1].split("\n## ", 1)[0]
    for command in commands:
        assert f"```bash\n{command}\n```" in section
    # and .ci/run takes them from the extractor, in this order
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "COMMANDS=$(python3 .ci/readme_commands.py)" in ci
    assert 'readme_command tests "$TEST_COMMAND"' in ci
    assert 'readme_command demo "$DEMO_COMMAND"' in ci


@needs_checkout
def test_no_and_list_can_swallow_a_failure_in_ci():
    # Under set -e, bash does not stop when a command before "&&" fails.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    code = [line.split("#", 1)[0] for line in ci.splitlines()]
    assert not [line for line in code if "&&" in line]
    assert "set -euo pipefail" in ci


@needs_checkout
def test_import_from_an_unbuilt_tree_says_how_to_build_it(tmp_path):
    # the package's sources without any compiled module, as in a fresh clone
    shutil.copytree(
        ROOT / "skgd",
        tmp_path / "skgd",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"),
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for command in (["-c", "import skgd"], ["-m", "skgd", "--help"]):
        proc = subprocess.run(
            [sys.executable, *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(
            f"ImportError: skgd was imported from {tmp_path / 'skgd'}, whose compiled "
            "kernels are not built (no module skgd._fast._gradient): "
        ), proc.stderr
        assert f"`pip install -e .` run in {tmp_path}" in last
        # one error, not a chained ModuleNotFoundError traceback
        assert "ModuleNotFoundError" not in proc.stderr
