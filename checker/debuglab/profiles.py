"""Device profiles: how to recognise a device class, its time limits and its targets."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from functools import cache

from debuglab import paths
from debuglab.errors import DebuglabError

DEVICES = ("cpu", "cuda", "mps")


@dataclass(frozen=True)
class Profile:
    name: str
    device: str
    description: str
    time_limit_s: float
    memory_limit_mb: int | None
    threads: int
    name_pattern: str | None
    targets: dict = field(default_factory=dict, compare=False, hash=False)


def _load(path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DebuglabError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    try:
        match, limits = data.get("match", {}), data.get("limits", {})
        return Profile(
            name=data["name"],
            device=data["device"],
            description=data.get("description", ""),
            time_limit_s=float(limits.get("time_limit_s", 120)),
            memory_limit_mb=limits.get("memory_limit_mb"),
            threads=int(limits.get("threads", 1)),
            name_pattern=match.get("device_name"),
            targets=dict(data.get("targets", {})),
        )
    except KeyError as exc:
        raise DebuglabError(f"{path}: key {exc.args[0]!r} is missing") from None


@cache
def all_profiles() -> dict[str, Profile]:
    return {p.name: p for p in map(_load, sorted(paths.profiles_dir().glob("*.toml")))}


def detect_device() -> str:
    """cuda, then mps, then cpu, without importing torch (list and --help stay fast)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) != "" and shutil.which("nvidia-smi") and os.path.exists("/dev/nvidia0"):
        return "cuda"
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "mps"
    return "cpu"


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def choose(device: str | None, profile_name: str | None) -> Profile:
    profiles = all_profiles()
    if profile_name:
        if profile_name not in profiles:
            raise DebuglabError(f"unknown profile {profile_name!r}: known {', '.join(profiles)} (files in {paths.profiles_dir()})")
        return profiles[profile_name]
    device = device or detect_device()
    if device not in DEVICES:
        raise DebuglabError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "cuda" and detect_device() != "cuda":
        raise DebuglabError("--device cuda: no CUDA GPU is visible here (nvidia-smi or /dev/nvidia0 missing); use --device cpu")
    candidates = [p for p in profiles.values() if p.device == device]
    if device == "cuda":
        name = gpu_name()
        specific = [p for p in candidates if p.name_pattern and re.search(p.name_pattern, name)]
        if specific:
            return specific[0]
    generic = [p for p in candidates if not p.name_pattern]
    if generic:
        return generic[0]
    fallback = profiles.get("cpu")
    if fallback is None:
        raise DebuglabError(f"no profile for device {device!r} in {paths.profiles_dir()}")
    return fallback
