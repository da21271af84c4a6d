"""The embedded local stack: moto + an API Gateway emulation in front of the real handlers.

`python -m local_stack --port 3000` (what `make local` runs), or from Python:

    with LocalStack(port=0) as stack:          # in this process
        requests.get(f"{stack.url}/health")

    with LocalStackProcess() as stack:         # in a child process (what the tests use)
        ...
"""

from local_stack.process import LocalStackProcess
from local_stack.stack import LocalStack

__all__ = ["LocalStack", "LocalStackProcess"]
