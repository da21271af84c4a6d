"""Bare boto3: a REQUEST authorizer at its simplest, the floor of the authorizer's cold start.
One GetItem of the caller's key, an IAM policy back; no Powertools, no project code."""

import os
from typing import Any

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["BENCH_TABLE"]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    key = {"pk": {"S": f"BENCH#{event['headers'].get('x-api-key', '')}"}, "sk": {"S": "ITEM"}}
    found = "Item" in dynamodb.get_item(TableName=TABLE, Key=key)
    statement = {
        "Action": "execute-api:Invoke",
        "Effect": "Allow" if found else "Deny",
        "Resource": event["methodArn"],
    }
    return {
        "principalId": "bench",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
