"""The API under `sam local start-api` (`make test-sam-local`): the functions in Docker, the local
stack's moto behind them, as `make sam-local` runs it.

It needs Docker and an invoke image already on this machine: $SAM_INVOKE_IMAGE, else AWS's
python3.11 arm64 image. Without them it is skipped, with the reason, in a few seconds at most
(`docker info` is given 10). Starting takes minutes (sam build, then one container per function,
emulated on a machine that is not arm64): everything shares one start.
"""

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sam_local import INIT_ALLOWANCE_SECONDS, SAM_PYTHON, env_vars_file, sam_local_template

from local_stack import LocalStackProcess
from local_stack.resources import assign_physical_ids
from local_stack.stack import REPO_ROOT
from local_stack.template import Template, load_yaml
from tests.support.local_stack import TEST_STACK_PARAMETERS, StackSession

AWS_INVOKE_IMAGE = "public.ecr.aws/lambda/python:3.11-arm64"  # what SAM CLI pulls for python3.11
DOCKER_SECONDS = 10

pytestmark = pytest.mark.timeout(900)


def _docker(docker: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the docker CLI, fixed arguments
        [docker, *args], capture_output=True, text=True, timeout=DOCKER_SECONDS, check=False
    )


def why_sam_local_cannot_run() -> str | None:
    """None when Docker answers and the invoke image is here; else why not."""
    if not SAM_PYTHON.exists():
        return f"no SAM CLI at {SAM_PYTHON} (make .venv-sam/.installed)"
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command"
    try:
        info = _docker(docker, "info", "--format", "{{.ServerVersion}}")
        if info.returncode != 0:
            said = info.stderr.strip().splitlines() or [f"exit status {info.returncode}"]
            return f"Docker does not answer: {said[-1]}"
        image = os.environ.get("SAM_INVOKE_IMAGE") or AWS_INVOKE_IMAGE
        if _docker(docker, "image", "inspect", image).returncode != 0:
            return (
                f"no invoke image {image} on this machine: docker pull it, or build one "
                "(../shared/tools/lambda-image.sh) and set SAM_INVOKE_IMAGE"
            )
    except subprocess.TimeoutExpired:
        return f"Docker does not answer within {DOCKER_SECONDS}s"
    return None


@pytest.fixture(scope="module")
def sam_stack() -> Iterator[LocalStackProcess]:
    reason = why_sam_local_cannot_run()
    if reason:
        pytest.skip(reason)
    stack = LocalStackProcess(
        module="sam_local", parameters=TEST_STACK_PARAMETERS, timeout=800, stop_timeout=150
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        # Shown when a test failed: what SAM CLI said last (not the functions' JSON logs).
        said = [line for line in stack.log().splitlines() if not line.startswith("{")]
        print("\n".join(said[-80:]))


class SamLocalSession(StackSession):
    """StackSession with time for cold starts: an emulated one takes seconds (authorizer and
    function both), several times that on a busy machine."""

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 120)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http(sam_stack: LocalStackProcess) -> Iterator[StackSession]:
    with SamLocalSession(sam_stack) as session:
        yield session


def test_apps_ingest_listing_and_statistics_through_sam_local(http):
    # The authorizer refuses a request without a credential, or with an unknown key. SAM CLI
    # answers its refusal ("Unauthorized" raised) with 502 where API Gateway answers 401.
    name = f"sam-{uuid.uuid4().hex[:8]}"
    for credential in ({}, {"x-api-key": "not-a-key"}):
        refused = http.post(f"/apps/{name}", headers=credential)
        assert refused.status_code == 502, refused.text
        assert refused.json() == {"message": "Internal server error"}

    created = http.post(f"/apps/{name}", headers=http.admin)
    assert created.status_code == 201, created.text
    app = created.json()
    assert app["name"] == name
    ingest = {"X-INGEST-KEY": app["ingest_key"]}

    stored = []
    for level, message in (("error", "disk full"), ("error", "disk full"), ("info", "started")):
        reply = http.post(
            f"/apps/{app['id']}/events", json={"level": level, "message": message}, headers=ingest
        )
        assert reply.status_code == 201, reply.text
        stored.append(reply.json())
    assert [event["level"] for event in stored] == ["ERROR", "ERROR", "INFO"]

    # A key of another app: the authorizer's Deny, answered with SAM CLI's own 403 body.
    elsewhere = http.post(
        f"/apps/{http.stack.default_app_id}/events", json={"message": "x"}, headers=ingest
    )
    assert elsewhere.status_code == 403, elsewhere.text

    listing = http.get(f"/apps/{app['id']}/events", headers=http.admin)
    assert listing.status_code == 200, listing.text
    assert sorted(event["id"] for event in listing.json()["items"]) == sorted(
        event["id"] for event in stored
    )

    # Counted by the aggregator (in the sam_local process) from the events table's stream.
    by_level = http.get(f"/apps/{app['id']}/stats/by-level", headers=http.admin)
    assert by_level.status_code == 200, by_level.text
    assert by_level.json()["items"] == [
        {"level": "ERROR", "count": 2},
        {"level": "INFO", "count": 1},
    ]

    apps = http.get("/apps", headers=http.admin).json()["items"]
    assert [listed["name"] for listed in apps].count(name) == 1  # the refused ones made none


# Without Docker: what makes the functions find moto under sam local.


def test_the_template_sam_local_builds_declares_the_endpoint_and_allows_for_cold_starts(
    tmp_path,
):
    source = REPO_ROOT / "template.yaml"
    original = load_yaml(source.read_text())
    built = json.loads(sam_local_template(source, tmp_path / "template.json").read_text())

    # SAM CLI passes only declared variables: the env-vars file can set this one.
    assert built["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"] == ""
    for props, before in [(built["Globals"]["Function"], original["Globals"]["Function"])] + [
        (built["Resources"][name]["Properties"], original["Resources"][name]["Properties"])
        for name in ("AuthorizerFunction", "AdminFunction")
    ]:
        assert props["Timeout"] == before["Timeout"] + INIT_ALLOWANCE_SECONDS
    code = Path(built["Resources"]["IngestFunction"]["Properties"]["CodeUri"])
    assert code.is_absolute()
    assert (code / "app.py").is_file()
    layer = Path(built["Resources"]["CommonLayer"]["Properties"]["ContentUri"])
    assert (layer / "python" / "eventlog").is_dir()


def test_the_env_vars_file_points_every_function_at_the_backend():
    template = Template.load(REPO_ROOT / "template.yaml")
    assign_physical_ids(template)
    moto = "http://127.0.0.1:4566"
    template.physical_ids["NotificationQueue"] = f"{moto}/123456789012/NotificationQueue"

    env = env_vars_file(template, moto, "http://host.docker.internal:4566")

    functions = {name for name, _ in template.of_type("AWS::Serverless::Function")}
    assert set(env) == functions
    ingest = env["IngestFunction"]
    assert ingest["AWS_ENDPOINT_URL"] == "http://host.docker.internal:4566"
    assert ingest["EVENTS_TABLE"] == "EventsTable"
    assert ingest["POWERTOOLS_SERVICE_NAME"] == "ingest"
    assert ingest["NOTIFICATION_QUEUE_URL"] == (
        "http://host.docker.internal:4566/123456789012/NotificationQueue"
    )
    assert env["AuthorizerFunction"]["POWERTOOLS_SERVICE_NAME"] == "authorizer"
