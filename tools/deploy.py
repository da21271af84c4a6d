"""Deploying a stack with SAM, and deleting it: `make deploy` and `make delete`.

    make deploy [STACK=eventlog] [REGION=eu-west-1] [DEPLOY_GUIDED=1]
    make delete [STACK=eventlog] [REGION=eu-west-1]

The region is REGION, else your AWS configuration's (AWS_REGION, AWS_DEFAULT_REGION,
~/.aws/config), else samconfig.toml's: the stack, its signing secret and `make admin-key` all
use the same one. `make deploy` runs `sam deploy --guided` when the stack does not exist yet in
that region (or DEPLOY_GUIDED=1), plain `sam deploy` with samconfig.toml's answers otherwise;
then it creates the signing secret (an SSM SecureString, which CloudFormation cannot create) in
the stack's region if it is missing, and prints the API's URL and what to do next.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from local_stack.template import load_yaml

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackTypeDef

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG_PATH = ROOT / "samconfig.toml"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
SIGNING_SECRET_PARAMETER = "SigningSecretParameterName"  # noqa: S105 - a template parameter
# Where a signing secret made for another region usually is: the region this Makefile forced on
# every command before it honoured your configuration.
FORMER_DEFAULT_REGION = "us-east-1"


class DeployError(Exception):
    """Something the operator must fix first; the message says what."""


@dataclass(frozen=True)
class SamDefaults:
    """What samconfig.toml gives `sam deploy` (its `default` environment)."""

    stack_name: str | None
    region: str | None

    @classmethod
    def load(cls, path: Path = SAMCONFIG_PATH) -> SamDefaults:
        config = tomllib.loads(path.read_text()) if path.exists() else {}
        default = config.get("default", {})
        deploy = default.get("deploy", {}).get("parameters", {})
        shared = default.get("global", {}).get("parameters", {})
        return cls(
            stack_name=deploy.get("stack_name") or shared.get("stack_name"),
            region=deploy.get("region") or shared.get("region"),
        )


def resolve_region(explicit: str | None, configured: str | None, samconfig: str | None) -> str:
    region = explicit or configured or samconfig
    if not region:
        raise DeployError(
            "no AWS region: pass REGION=..., or set one (aws configure set region eu-west-1)"
        )
    return region


def session_for(region: str | None, defaults: SamDefaults) -> boto3.Session:
    configured = boto3.Session().region_name
    return boto3.Session(region_name=resolve_region(region, configured, defaults.region))


def describe_stack(cfn: CloudFormationClient, stack: str) -> StackTypeDef | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def stack_outputs(description: StackTypeDef) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in description.get("Outputs", [])}


def stack_parameters(description: StackTypeDef) -> dict[str, str]:
    return {
        item["ParameterKey"]: item.get("ResolvedValue", item["ParameterValue"])
        for item in description.get("Parameters", [])
    }


# ---------------------------------------------------------------- the signing secret


def parameter_exists(session: boto3.Session, name: str) -> bool:
    try:
        session.client("ssm").get_parameter(Name=name)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return False
        raise


def ensure_signing_secret(session: boto3.Session, name: str) -> bool:
    """Create the SecureString with a random 256-bit secret unless it exists; True if created.
    An existing secret is never replaced: that would invalidate every token and cursor."""
    if parameter_exists(session, name):
        return False
    session.client("ssm").put_parameter(
        Name=name,
        Type="SecureString",
        Value=secrets.token_hex(32),
        Description="Eventlog: HS256 secret of bearer tokens and page cursors",
        Overwrite=False,
    )
    return True


def signing_secret_problem(session: boto3.Session, name: str) -> str | None:
    """Why the stack in the session's region cannot sign tokens and cursors, or None."""
    region = session.region_name
    if parameter_exists(session, name):
        return None
    found = ""
    if region != FORMER_DEFAULT_REGION:
        with contextlib.suppress(ClientError):  # that region may be closed to these credentials
            if parameter_exists(boto3.Session(region_name=FORMER_DEFAULT_REGION), name):
                found = f" (there is one in {FORMER_DEFAULT_REGION}, another region)"
    return (
        f"the signing secret {name} does not exist in {region}, the stack's region{found}: "
        f"create it there with `make deploy REGION={region}`, or aws ssm put-parameter "
        f'--region {region} --type SecureString --name {name} --value "$(openssl rand -hex 32)"'
    )


# ---------------------------------------------------------------- deploy


def run_sam(sam: Path, *args: str) -> None:
    print("+ sam " + shlex.join(args), flush=True)
    if subprocess.run([str(sam), *args], check=False).returncode != 0:  # noqa: S603
        raise DeployError(f"sam {args[0]} failed (its output is above)")


def next_steps(stack: str, region: str, outputs: dict[str, str]) -> str:
    api, topic = outputs.get("ApiUrl", "<ApiUrl>"), outputs.get("AlertsTopicArn", "<topic>")
    return f"""
API:        {api}
dashboard:  {outputs.get("DashboardUrl", "?")}
alerts:     {topic}

Next:
  make admin-key STACK={stack} REGION={region}    # the first admin key, printed once
  make smoke URL={api} ADMIN=<that key>    # checks the stage end to end
  aws sns subscribe --region {region} --topic-arn {topic} \\
      --protocol email --notification-endpoint you@example.com    # the alarms, by mail"""


def deploy(args: argparse.Namespace) -> None:
    defaults = SamDefaults.load()
    stack = args.stack or defaults.stack_name or "eventlog"
    session = session_for(args.region, defaults)
    region = str(session.region_name)
    cfn = session.client("cloudformation")
    # Guided the first time: it asks for the parameters and saves the answers in samconfig.toml.
    guided = args.guided or describe_stack(cfn, stack) is None
    run_sam(args.sam, "deploy", "--stack-name", stack, "--region", region, *(["--guided"] * guided))
    if guided:  # the answers may name another stack or region: sam saved them in samconfig
        answers = SamDefaults.load()
        stack, region = answers.stack_name or stack, answers.region or region
        session = boto3.Session(region_name=region)
        cfn = session.client("cloudformation")
    description = describe_stack(cfn, stack)
    if description is None:
        raise DeployError(f"no stack {stack} in {region} after sam deploy (changeset declined?)")
    secret_name = stack_parameters(description)[SIGNING_SECRET_PARAMETER]
    created = ensure_signing_secret(session, secret_name)
    print(f"\nsigning secret {secret_name}: {'created' if created else 'exists'} in {region}")
    print(next_steps(stack, region, stack_outputs(description)))


# ---------------------------------------------------------------- delete


def retained_resources(cfn: CloudFormationClient, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, physical id, type) of the stack's resources that `sam delete` leaves behind
    (DeletionPolicy: Retain in the deployed template)."""
    body: Any = cfn.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    template = load_yaml(body) if isinstance(body, str) else body
    retained = {
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") == "Retain"
    }
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return sorted(
        (item["LogicalResourceId"], item.get("PhysicalResourceId", "?"), item["ResourceType"])
        for item in resources
        if item["LogicalResourceId"] in retained
    )


def deletion_notice(stack: str, region: str, session: boto3.Session) -> str:
    cfn = session.client("cloudformation")
    description = describe_stack(cfn, stack)
    if description is None:
        raise DeployError(f"no stack {stack} in {region} (REGION=... if it is elsewhere)")
    kept = retained_resources(cfn, stack)
    secret = stack_parameters(description).get(SIGNING_SECRET_PARAMETER, "?")
    lines = [
        f"Deleting stack {stack} in {region} removes its API, functions, queues, alerts topic,",
        "dashboard, alarms and log groups. It keeps (DeletionPolicy: Retain, so a mistaken",
        "delete loses no events, apps, keys or counts; a new stack does not reuse them):",
        *(f"  {logical}: {physical} ({kind})" for logical, physical, kind in kept),
        "and, never part of the stack: the signing secret "
        f"{secret} and the channel secrets under /eventlog/{stack}/secrets/ (SSM).",
        "To remove those too, once the stack is gone:",
        *(
            f"  aws dynamodb delete-table --region {region} --table-name {physical}"
            for _, physical, kind in kept
            if kind == "AWS::DynamoDB::Table"
        ),
        f"  aws ssm delete-parameter --region {region} --name {secret}",
        f"  aws ssm get-parameters-by-path --region {region} --path /eventlog/{stack}/secrets"
        " --recursive --query 'Parameters[].Name' --output text"
        f" | xargs -r -n 10 aws ssm delete-parameters --region {region} --names",
    ]
    return "\n".join(lines)


def delete(args: argparse.Namespace) -> None:
    defaults = SamDefaults.load()
    stack = args.stack or defaults.stack_name or "eventlog"
    session = session_for(args.region, defaults)
    region = str(session.region_name)
    print(deletion_notice(stack, region, session))
    answer = input(f"\nType the stack's name ({stack}) to delete it: ").strip()
    if answer != stack:
        raise DeployError("not deleted")
    run_sam(args.sam, "delete", "--stack-name", stack, "--region", region, "--no-prompts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "delete"])
    parser.add_argument("--stack", help="stack name (default: samconfig.toml's, else eventlog)")
    parser.add_argument("--region", help="default: your AWS configuration's, else samconfig's")
    parser.add_argument("--guided", action="store_true", help="sam deploy --guided regardless")
    parser.add_argument("--sam", type=Path, default=SAM, help="the sam executable")
    args = parser.parse_args(argv)
    try:
        {"deploy": deploy, "delete": delete}[args.command](args)
    except DeployError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
