"""Where the catalog (labs/, fixtures/, profiles/) lives: inside an installed wheel or a checkout."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from debuglab.errors import DebuglabError

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder holding labs/, fixtures/ and profiles/.

    DEBUGLAB_DATA overrides (tests use it for broken catalogs); a wheel carries them under
    debuglab/_data; an editable install or a checkout finds them two folders above the package.
    """
    override = os.environ.get("DEBUGLAB_DATA")
    candidates = [Path(override).resolve()] if override else [PACKAGE_DIR / "_data", PACKAGE_DIR.parent.parent]
    for root in candidates:
        if (root / "labs").is_dir():
            return root
    where = override or f"{PACKAGE_DIR / '_data'} or {PACKAGE_DIR.parent.parent}"
    raise DebuglabError(f"no lab catalog found at {where}: reinstall debuglab (pip install .) or fix DEBUGLAB_DATA")


def labs_dir() -> Path:
    return data_root() / "labs"


def fixtures_dir() -> Path:
    return data_root() / "fixtures"


def profiles_dir() -> Path:
    return data_root() / "profiles"


def cache_dir() -> Path:
    base = os.environ.get("DEBUGLAB_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "debuglab"
