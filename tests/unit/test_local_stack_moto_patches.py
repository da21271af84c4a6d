"""local_stack.moto_patches: a cancelled transaction leaves every item as it was, and a
committed one applies every action, with only the touched items copied."""

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack import moto_patches
from tests.support.fake_aws import aws_client, create_key_table


@pytest.fixture
def table():
    moto_patches.apply()
    with mock_aws():
        create_key_table("T")
        client = aws_client("dynamodb")
        client.put_item(TableName="T", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
        yield client


def add(key: str, amount: int, condition: str | None = None) -> dict:
    update = {
        "TableName": "T",
        "Key": {"pk": {"S": key}, "sk": {"S": "1"}},
        "UpdateExpression": "ADD n :n",
        "ExpressionAttributeValues": {":n": {"N": str(amount)}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def items(client) -> dict[str, int]:
    found = {}
    for key in ("a", "b"):
        item = client.get_item(TableName="T", Key={"pk": {"S": key}, "sk": {"S": "1"}})
        if "Item" in item:
            found[key] = int(item["Item"]["n"]["N"])
    return found


def test_a_cancelled_transaction_changes_nothing(table):
    actions = [add("a", 5), add("b", 7), add("a2", 1, "attribute_exists(pk)")]
    with pytest.raises(ClientError) as raised:
        table.transact_write_items(TransactItems=actions)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert items(table) == {"a": 1}  # "b" was created, then taken away again


def test_a_committed_transaction_applies_every_action(table):
    table.transact_write_items(TransactItems=[add("a", 5), add("b", 7)])
    assert items(table) == {"a": 6, "b": 7}
