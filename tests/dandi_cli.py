"""dandi-cli in a venv of its own, made from PyPI on first use and cached, and a runner of `dandi validate`
that cannot reach the network (its version checks are switched off, and any other request fails at once)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REQUIREMENTS = Path(__file__).parent / "fixtures/dandi/requirements.txt"
INSTALL_TIMEOUT = 1800  # seconds: a fresh CI machine downloads dandi, tensorstore, pynwb and their dependencies
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so a request fails without leaving the box


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nwbzarr-image-dandi-venv"


def venv_key() -> str:
    """The pinned requirements and the interpreter: a change of either makes a new venv."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    return f"py{sys.version_info.major}{sys.version_info.minor}-{digest}"


def dandi_venv() -> Path:
    """The cached venv holding dandi-cli; built once, under a lock, and marked complete only when pip succeeded
    (a half-built one, e.g. from a killed run, is built again)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / venv_key()
    done = target / "complete"
    if done.is_file():
        return target
    with open(root / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building the same venv
        if done.is_file():
            return target
        shutil.rmtree(target, ignore_errors=True)
        # made from the base Python of the test interpreter; nothing of the project's venv is shared
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, capture_output=True)
        result = subprocess.run([str(target / "bin/python"), "-m", "pip", "install", "--quiet",
                                 "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                                capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if result.returncode:
            raise RuntimeError(f"pip could not install {REQUIREMENTS} into {target}:\n{result.stdout}\n"
                               f"{result.stderr}")
        done.write_text(REQUIREMENTS.read_text())
    return target


def offline_env(home: Path) -> dict[str, str]:
    """The environment of a `dandi` run: no version checks, no caches or logs outside ``home``, no network."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({
        "DANDI_NO_ET": "1",          # dandi's etelemetry check of the latest dandi-cli release
        "DANDI_CACHE": "ignore",     # fscacher: no cache of digests and validation results
        "XDG_CACHE_HOME": str(home / "cache"), "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY,
        "NO_PROXY": "", "no_proxy": "",
    })
    return env


def dandi_validate(paths: list[Path], home: Path) -> tuple[int, list[dict[str, Any]]]:
    """Run `dandi validate -f json` on ``paths``; returns its exit code and its results."""
    home.mkdir(parents=True, exist_ok=True)
    exe = dandi_venv() / "bin/dandi"
    result = subprocess.run([str(exe), "validate", "-f", "json", "--min-severity", "HINT", *map(str, paths)],
                            capture_output=True, text=True, env=offline_env(home), cwd=home, timeout=600)
    if not result.stdout.strip():
        raise RuntimeError(f"dandi validate printed no results (exit {result.returncode}):\n{result.stderr}")
    return result.returncode, json.loads(result.stdout)
