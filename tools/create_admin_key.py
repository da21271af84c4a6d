"""Create an admin key for a deployed stack (the first one cannot come from the API).

    make admin-key STACK=eventlog     # uses your AWS credentials and region

Reads the stack's outputs, writes the key's hash to its registry table and prints the plaintext
key once.
"""

import argparse
import os

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="eventlog", help="CloudFormation stack name")
    parser.add_argument("--label", default="first admin", help="label stored with the key")
    args = parser.parse_args()

    stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}
    # The same variables the template gives the functions.
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
