"""One cold start: this process imports a Lambda handler and answers its first request, as a new
Lambda execution environment does. bench.coldstart runs it once per measurement:

    python first_request.py REQUEST_JSON ANSWER_JSON

REQUEST_JSON holds the handler's folder, its "module.attribute", the event and the context's
values; ANSWER_JSON gets the handler's answer and the milliseconds from the top of this file to
the handler imported and to its answer. Before the handler, this file imports only modules
every handler imports anyway (json, importlib, typing): the time measured is the handler's.
"""

import time

STARTED = time.perf_counter()  # before any import of this file: the measure starts here

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class LambdaContext:
    """The Lambda context object: what handlers and Powertools read of it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.function_name: str = values["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = values["invoked_function_arn"]
        self.memory_limit_in_mb: int = values["memory_limit_in_mb"]
        self.aws_request_id: str = values["aws_request_id"]
        self.log_group_name: str = values["log_group_name"]
        self.log_stream_name: str = values["log_stream_name"]
        self._deadline = STARTED + values["timeout_seconds"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.perf_counter()) * 1000))


def main() -> None:
    request_path, answer_path = sys.argv[1:3]
    with open(request_path) as file:
        request = json.load(file)
    sys.path[0] = request["code_dir"]  # the handler's folder, as /var/task is in Lambda
    module_name, _, attribute = request["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter()
    answer = handler(request["event"], LambdaContext(request["context"]))
    answered = time.perf_counter()
    with open(answer_path, "w") as file:
        json.dump(
            {
                "answer": answer,
                "import_ms": (imported - STARTED) * 1000,
                "first_request_ms": (answered - STARTED) * 1000,
            },
            file,
        )


if __name__ == "__main__":
    main()
