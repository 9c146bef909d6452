"""The trained model: reused while what it is built from is unchanged.

The model is cached outside the clone (HCBOT_CACHE, default ~/.cache/hcbot),
named by a hash of config.yml, domain.yml, everything under data/ and the
Rasa version, so a second `make run` or a CI run on the same machine skips
training.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from bot.settings import ROOT


def cache_dir() -> Path:
    base = os.environ.get("HCBOT_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "hcbot")
    return Path(base)


def inputs(root: Path = ROOT) -> list[Path]:
    files = [root / "config.yml", root / "domain.yml"]
    files += sorted(p for p in (root / "data").rglob("*") if p.is_file())
    return files


def model_hash(root: Path = ROOT) -> str:
    digest = hashlib.sha256(f"rasa {version('rasa')}\n".encode())
    for path in inputs(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return cache_dir() / "models" / f"model-{model_hash(root)}.tar.gz"


def ensure_model(root: Path = ROOT) -> Path:
    """The model for the current data and config, trained only if there is none yet."""
    path = model_path(root)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = path.parent / f"tmp-{os.getpid()}"
        print(f"Training the model (data or config changed) into {path} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--fixed-model-name", "model", "--out", str(tmp_out),
             "--config", "config.yml", "--domain", "domain.yml", "--data", "data"],
            cwd=root,
            check=True,
        )
        os.replace(tmp_out / "model.tar.gz", path)
        shutil.rmtree(tmp_out, ignore_errors=True)
    link = root / "models" / "current.tar.gz"
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(path)
    return path
