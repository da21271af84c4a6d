"""Create an admin key for a deployed stack (the first one cannot come from the API).

    make admin-key STACK=eventlog [REGION=eu-west-1]   # your AWS credentials and region

Reads the stack's outputs, checks that its signing secret is in the stack's region, writes the
key's hash to its registry table and prints the plaintext key once. The region is the one
`make deploy` uses (tools/deploy.py): REGION, else your AWS configuration's, else samconfig.toml's.
"""

import argparse
import os
import sys

from deploy import (
    SIGNING_SECRET_PARAMETER,
    SamDefaults,
    session_for,
    signing_secret_problem,
    stack_parameters,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="eventlog", help="CloudFormation stack name")
    parser.add_argument("--label", default="first admin", help="label stored with the key")
    parser.add_argument("--region", help="default: your AWS configuration's, else samconfig's")
    args = parser.parse_args()

    session = session_for(args.region, SamDefaults.load())
    stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}
    problem = signing_secret_problem(session, stack_parameters(stack)[SIGNING_SECRET_PARAMETER])
    if problem:
        sys.exit(f"admin-key: {problem}")
    # The same variables the template gives the functions, and the stack's region.
    os.environ["AWS_DEFAULT_REGION"] = str(session.region_name)
    os.environ["REGISTRY_TABLE"] = outputs["RegistryTableName"]
    os.environ["OPERATOR_API_KEY_ID_PARAMETER"] = f"/eventlog/{args.stack}/operator-api-key-id"

    from eventlog.access.keys import create_key
    from eventlog.access.principal import Role
    from eventlog.models.admin import KeyIn

    created = create_key(KeyIn(role=Role.ADMIN, label=args.label))
    print(f"API:       {outputs['ApiUrl']}")
    print(f"admin key: {created.key}  (id {created.id}; shown once, stored as a hash)")


if __name__ == "__main__":
    main()
