"""The deploy tools' AWS side (tools/deploy.py, tools/create_admin_key.py) on moto: the region
they pick, the signing secret they create or find missing, what `make delete` says it keeps."""

import json
import sys

import boto3
import create_admin_key
import deploy
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

STACK = "eventlog-test"
SECRET = "/eventlog/signing-secret"  # noqa: S105 - the parameter's name


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Credentials for moto, and no AWS configuration but what a test sets."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield monkeypatch


def create_stack(region: str) -> None:
    """A stack shaped like Eventlog's where it matters: a retained table and a deleted one, the
    signing secret's parameter and the outputs create_admin_key reads."""
    template = {
        "Parameters": {"SigningSecretParameterName": {"Type": "String", "Default": SECRET}},
        "Resources": {
            "EventsTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            "IdempotencyTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                },
            },
        },
        "Outputs": {
            "ApiUrl": {"Value": "https://example.invalid/v1"},
            "RegistryTableName": {"Value": {"Ref": "EventsTable"}},
        },
    }
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName=STACK, TemplateBody=json.dumps(template)
    )


def put_secret(region: str, value: str = "s" * 64) -> None:
    boto3.client("ssm", region_name=region).put_parameter(
        Name=SECRET, Type="SecureString", Value=value
    )


# ---------------------------------------------------------------- the region


def test_samconfig_gives_the_stack_name(tmp_path):
    assert deploy.SamDefaults.load().stack_name == "eventlog"
    saved = tmp_path / "samconfig.toml"  # as sam deploy --guided saves its answers
    saved.write_text(
        '[default.deploy.parameters]\nstack_name = "logs-prod"\nregion = "eu-central-1"\n'
    )
    assert deploy.SamDefaults.load(saved) == deploy.SamDefaults("logs-prod", "eu-central-1")
    assert deploy.SamDefaults.load(tmp_path / "none.toml") == deploy.SamDefaults(None, None)


def test_the_region_is_the_one_asked_for_then_the_configured_one_then_samconfigs(aws_env):
    defaults = deploy.SamDefaults(stack_name=None, region="us-east-1")
    assert deploy.session_for(None, defaults).region_name == "us-east-1"
    aws_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert deploy.session_for(None, defaults).region_name == "eu-west-1"
    assert deploy.session_for("ap-south-1", defaults).region_name == "ap-south-1"


def test_no_region_anywhere_is_an_error_saying_how_to_give_one(aws_env):
    defaults = deploy.SamDefaults(stack_name=None, region=None)
    with pytest.raises(deploy.DeployError, match=r"pass REGION=\.\.\., or set one"):
        deploy.session_for(None, defaults)


# ---------------------------------------------------------------- the signing secret


def test_the_signing_secret_is_created_once_in_the_stacks_region_and_never_replaced(aws_env):
    session = boto3.Session(region_name="eu-west-1")
    assert deploy.ensure_signing_secret(session, SECRET) is True
    ssm = session.client("ssm")
    first = ssm.get_parameter(Name=SECRET, WithDecryption=True)["Parameter"]
    assert first["Type"] == "SecureString"
    assert len(bytes.fromhex(first["Value"])) == 32

    assert deploy.ensure_signing_secret(session, SECRET) is False
    assert ssm.get_parameter(Name=SECRET, WithDecryption=True)["Parameter"] == first
    with pytest.raises(ClientError, match="ParameterNotFound"):
        boto3.client("ssm", region_name="us-east-1").get_parameter(Name=SECRET)


def test_a_signing_secret_in_the_stacks_region_is_no_problem(aws_env):
    put_secret("eu-west-1")
    assert deploy.signing_secret_problem(boto3.Session(region_name="eu-west-1"), SECRET) is None


def test_a_signing_secret_left_in_the_former_default_region_is_named(aws_env):
    put_secret("us-east-1")
    problem = deploy.signing_secret_problem(boto3.Session(region_name="eu-west-1"), SECRET)
    assert problem is not None
    assert problem.startswith(
        f"the signing secret {SECRET} does not exist in eu-west-1, the stack's region "
        "(there is one in us-east-1, another region): create it there with "
        "`make deploy REGION=eu-west-1`"
    )


def test_a_missing_signing_secret_says_how_to_create_it(aws_env):
    problem = deploy.signing_secret_problem(boto3.Session(region_name="us-east-1"), SECRET)
    assert problem is not None
    assert "another region" not in problem
    assert f"--region us-east-1 --type SecureString --name {SECRET}" in problem


def test_admin_key_refuses_a_stack_whose_signing_secret_is_in_another_region(
    aws_env, monkeypatch, capsys
):
    create_stack("eu-west-1")
    put_secret("us-east-1")
    argv = ["create_admin_key.py", "--stack", STACK, "--region", "eu-west-1"]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exit_info:
        create_admin_key.main()

    assert str(exit_info.value).startswith(
        f"admin-key: the signing secret {SECRET} does not exist in eu-west-1"
    )
    assert capsys.readouterr().out == ""  # no key was made


# ---------------------------------------------------------------- make delete


def test_the_deletion_notice_names_the_retained_tables_and_how_to_remove_them(aws_env):
    create_stack("eu-west-1")
    session = boto3.Session(region_name="eu-west-1")
    events_table = session.client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="EventsTable"
    )["StackResourceDetail"]["PhysicalResourceId"]

    notice = deploy.deletion_notice(STACK, "eu-west-1", session)

    assert f"  EventsTable: {events_table} (AWS::DynamoDB::Table)" in notice
    assert "IdempotencyTable" not in notice  # deleted with the stack
    assert f"aws dynamodb delete-table --region eu-west-1 --table-name {events_table}" in notice
    assert f"aws ssm delete-parameter --region eu-west-1 --name {SECRET}" in notice
    assert f"/eventlog/{STACK}/secrets" in notice


def test_deleting_a_stack_that_is_not_there_says_where_it_looked(aws_env):
    with pytest.raises(deploy.DeployError, match=f"no stack {STACK} in eu-west-1"):
        deploy.deletion_notice(STACK, "eu-west-1", boto3.Session(region_name="eu-west-1"))


def test_delete_stops_unless_the_stack_name_is_typed(aws_env, monkeypatch, capsys, tmp_path):
    create_stack("eu-west-1")
    monkeypatch.setattr("builtins.input", lambda prompt: "eventlog")
    never_run = tmp_path / "sam-not-run"  # sam delete would fail on a missing executable

    status = deploy.main(
        ["delete", "--stack", STACK, "--region", "eu-west-1", "--sam", str(never_run)]
    )

    assert status == 1
    assert capsys.readouterr().err == "delete: not deleted\n"
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
