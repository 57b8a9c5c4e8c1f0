"""Print the commands of the README's "Set up" section, one per line.

CI runs exactly these (so the README cannot drift from what CI checks):
every line of every ```bash block between "## Set up" and the next "## ".
"""

import pathlib
import re
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def setup_commands(text):
    section = re.search(r"^## Set up\n(.*?)(?=^## )", text, re.M | re.S)
    if section is None:
        raise SystemExit("README.md has no '## Set up' section")
    blocks = re.findall(r"^```bash\n(.*?)^```", section.group(1), re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


if __name__ == "__main__":
    commands = setup_commands(README.read_text(encoding="utf-8"))
    if len(commands) != 2:  # the demo and the tests; .ci/run names them
        sys.exit(f"expected 2 commands in the README's Set up section, found {commands}")
    print("\n".join(commands))
