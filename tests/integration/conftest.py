"""Integration tests: HTTP through the local stack (moto + the API Gateway emulation).

The stack runs in a child process, started once per pytest worker: an in-process stack would
redirect every boto3 call of the worker (and share moto's state with `mock_aws` unit tests).
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from local_stack import LocalStackProcess


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStackProcess]:
    """The whole service from template.yaml, with the `default` app and an admin key made."""
    with LocalStackProcess(port=0) as running:
        yield running


class StackSession(requests.Session):
    """A requests session for the stack: absolute URLs, or paths on the stack's URL
    (`http.get("/health")`); a 30 s timeout unless told otherwise. Credentials go per call:
    `http.get("/apps", headers=http.admin)`, `headers=http.ingest` (the default app's key)."""

    def __init__(self, stack: LocalStackProcess):
        super().__init__()
        self.base_url = stack.url
        self.admin = {"x-api-key": stack.admin_key}
        self.ingest = {"X-INGEST-KEY": stack.ingest_key}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http(stack: LocalStackProcess) -> Iterator[StackSession]:
    with StackSession(stack) as session:
        yield session


@pytest.fixture
def stack_aws(stack: LocalStackProcess):
    """`stack_aws("dynamodb")`: a boto3 client on the stack's moto, to see what was stored.
    (Not named `aws`: that is the in-process mock_aws fixture of tests/conftest.py.)"""

    def client(service: str) -> Any:
        return boto3.client(
            service, endpoint_url=stack.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
        )  # fmt: skip

    return client
