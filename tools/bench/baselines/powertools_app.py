"""The minimal Powertools stack: what any API function of this kind needs at least, and nothing
of the project. boto3, a REST resolver with validation, Logger, Metrics, one pydantic model as
body and response, one GetItem through a boto3 client."""

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")
TABLE = os.environ["BENCH_TABLE"]


class Item(BaseModel):
    name: str
    level: str = "info"


@app.post("/items/<item_id>")
def post_item(item_id: str, item: Item) -> Item:
    key = {"pk": {"S": f"BENCH#{item_id}"}, "sk": {"S": "ITEM"}}
    stored = dynamodb.get_item(TableName=TABLE, Key=key).get("Item")
    return Item(name=stored["name"]["S"] if stored else item.name, level=item.level)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
