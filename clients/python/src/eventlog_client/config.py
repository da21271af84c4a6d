"""Profiles of the `eventlog` command: a service URL, a key and an app, saved by `eventlog login`.

The file is `$EVENTLOG_CONFIG` if set, else `$XDG_CONFIG_HOME/eventlog/config.json` (by default
`~/.config/eventlog/config.json`), readable by its owner only: it holds keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def config_path() -> Path:
    explicit = os.environ.get("EVENTLOG_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "eventlog" / "config.json"


def load_profiles() -> dict[str, dict[str, Any]]:
    path = config_path()
    if not path.exists():
        return {}
    profiles = json.loads(path.read_text()).get("profiles", {})
    return profiles if isinstance(profiles, dict) else {}


def save_profile(name: str, profile: dict[str, Any]) -> Path:
    path = config_path()
    profiles = {**load_profiles(), name: profile}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created readable by its owner only, before the key is written into it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"profiles": profiles}, file, indent=2)
    return path


def resolve(name: str, url: str | None, key: str | None, app_id: int | None) -> dict[str, Any]:
    """The profile's values, overridden by the environment (EVENTLOG_URL, EVENTLOG_KEY,
    EVENTLOG_APP_ID), overridden by the command line."""
    profile = dict(load_profiles().get(name, {}))
    environment = {
        "url": os.environ.get("EVENTLOG_URL"),
        "key": os.environ.get("EVENTLOG_KEY"),
        "app_id": os.environ.get("EVENTLOG_APP_ID"),
    }
    for source in (environment, {"url": url, "key": key, "app_id": app_id}):
        profile.update({field: value for field, value in source.items() if value is not None})
    if profile.get("app_id") is not None:
        profile["app_id"] = int(profile["app_id"])
    return profile
