"""The layering the code relies on: DynamoDB is called from `eventlog.storage` only, and the
core knows nothing of API Gateway. A call to DynamoDB anywhere else is a failure here, so that
"who writes this item" has one answer: the storage module of its table."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers/common/python/eventlog"
STORAGE = CORE / "storage"

# Every data-plane operation of DynamoDB's API, as boto3's clients and tables name them.
DYNAMODB_CALLS = {
    "batch_get_item",
    "batch_write_item",
    "batch_writer",
    "delete_item",
    "execute_statement",
    "execute_transaction",
    "get_item",
    "put_item",
    "query",
    "scan",
    "transact_get_items",
    "transact_write_items",
    "update_item",
}
DYNAMODB_MODULES = ("boto3.dynamodb", "eventlog.storage.db")
HTTP_MODULES = ("eventlog_api", "aws_lambda_powertools.event_handler")


def _outside_storage() -> list[Path]:
    core = [path for path in CORE.rglob("*.py") if STORAGE not in path.parents]
    return sorted(core + list((ROOT / "functions").rglob("*.py")))


def _dynamodb_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in DYNAMODB_CALLS:
                found.append(f"{where} calls .{node.func.attr}()")
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported = [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name.startswith(DYNAMODB_MODULES) for name in [node.module, *imported]):
                found.append(f"{where} imports from {node.module}")
            if any(alias.name == "DynamoDBPersistenceLayer" for alias in node.names):
                found.append(f"{where} imports DynamoDBPersistenceLayer")
        elif isinstance(node, ast.Import):
            found += [
                f"{where} imports {a.name}"
                for a in node.names
                if a.name.startswith(DYNAMODB_MODULES)
            ]
        elif isinstance(node, ast.Constant) and node.value == "dynamodb":
            found.append(f"{where} names the dynamodb service")
    return found


@pytest.mark.parametrize("path", _outside_storage(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dynamodb_is_called_from_storage_only(path):
    assert _dynamodb_uses(path) == []


def test_the_check_sees_a_call_and_an_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from eventlog.storage import db\n"
        "from boto3.dynamodb.conditions import Key\n"
        "db.events_table().put_item(Item={})\n"
    )
    sample = sample.rename(ROOT / "tests/unit/_layering_sample.py")
    try:
        uses = _dynamodb_uses(sample)
    finally:
        sample.unlink()
    assert [use.split(" ", 1)[1] for use in uses] == [
        "imports from eventlog.storage",
        "imports from boto3.dynamodb.conditions",
        "calls .put_item()",
    ]


def test_the_core_knows_nothing_of_api_gateway():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("eventlog_api", "aws_lambda_powertools.event_handler")
                ), path
