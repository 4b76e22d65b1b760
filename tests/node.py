"""Run the third-party JavaScript clients in tests/js (npm packages such as oauth4webapi) against a live server.

Each client flow is a script in tests/js that takes its inputs as command-line arguments and prints one JSON
object on its last line of output. scripts/test installs the packages with `npm ci`; where Node.js or the
packages are missing, tests that need them skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).parent / "js"


def node_available(package: str = "oauth4webapi") -> bool:
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / package).is_dir()


def run_node(script: str, *args: str, timeout: float = 60, package: str = "oauth4webapi") -> Any:
    """Run tests/js/<script> with `args` and return the JSON its last output line holds.

    Skips the calling test where Node.js or the npm package is missing; fails it with the script's stderr when
    the script exits non-zero.
    """
    if not node_available(package):
        pytest.skip(f"Node.js or the npm package {package} is missing (npm ci --prefix tests/js)")
    done = subprocess.run(
        ["node", str(JS_DIR / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=JS_DIR,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{script} exited with {done.returncode}:\n{done.stderr}\n{done.stdout}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{script} printed nothing:\n{done.stderr}")
    return json.loads(lines[-1])
