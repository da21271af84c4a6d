"""Write-only secrets of alert channels and subscriptions, as SSM SecureStrings.

Each owner (`rules/<rule_id>`, `subscriptions/<subscription_id>`) has its own folder under
CHANNEL_SECRETS_PREFIX: `<prefix>/<owner>/<name>`. The API never returns them; the notifier and
the propagator read them when they deliver.
"""

from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

import boto3

from eventlog.base.config import get_settings


@cache
def _ssm() -> Any:
    return boto3.client("ssm")


def _folder(owner: str) -> str:
    return f"{get_settings().channel_secrets_prefix.rstrip('/')}/{owner}"


def _parameters(owner: str, decrypt: bool = False) -> Iterator[dict[str, Any]]:
    paginator = _ssm().get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=_folder(owner), Recursive=True, WithDecryption=decrypt):
        yield from page["Parameters"]


def _names(owner: str) -> list[str]:
    return [parameter["Name"] for parameter in _parameters(owner)]


def put(owner: str, values: dict[str, str]) -> None:
    folder = _folder(owner)
    for name, value in values.items():
        _ssm().put_parameter(
            Name=f"{folder}/{name}", Value=value, Type="SecureString", Overwrite=True
        )


def replace(owner: str, values: dict[str, str]) -> None:
    """Store these secrets and drop the owner's others (a channel list sent again, say)."""
    put(owner, values)
    folder = _folder(owner)
    _delete([name for name in _names(owner) if name.removeprefix(f"{folder}/") not in values])


def remove(owner: str, names: list[str]) -> None:
    folder, existing = _folder(owner), set(_names(owner))
    _delete([f"{folder}/{name}" for name in names if f"{folder}/{name}" in existing])


def delete(owner: str) -> None:
    _delete(_names(owner))


def _delete(names: list[str]) -> None:
    for start in range(0, len(names), 10):  # DeleteParameters takes up to 10 names
        _ssm().delete_parameters(Names=names[start : start + 10])


def read(owner: str, version: str) -> dict[str, str]:
    """The owner's secrets by name. `version` (the owner's updated_at) keys a small cache: a
    warm function reads SSM again only after the owner changed."""
    return dict(_read(owner, version))


@lru_cache(maxsize=256)
def _read(owner: str, version: str) -> tuple[tuple[str, str], ...]:
    del version  # part of the cache key only
    folder = _folder(owner)
    return tuple(
        (parameter["Name"].removeprefix(f"{folder}/"), parameter["Value"])
        for parameter in _parameters(owner, decrypt=True)
    )
