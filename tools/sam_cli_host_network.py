"""The SAM CLI with `--docker-network host` honoured: run it with .venv-sam's Python instead of
`sam` (`.venv-sam/bin/python tools/sam_cli_host_network.py local start-api ...`).

SAM CLI accepts `--docker-network host` but leaves the containers on Docker's default bridge,
where 127.0.0.1 is the container itself (aws/aws-sam-cli#4236; the fix, #7278, was not merged).
Here a function's container joins the host's network, so it reaches the embedded backend on
127.0.0.1 and every connection stays on loopback. Containers then share the host's ports: each
one's emulator (RIE) listens on the port SAM CLI already picked for it, and its runtime API on a
free port of its own, instead of 8080 and 9001 for all of them.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

HOST_NETWORK = "host"
LOOPBACK = "127.0.0.1"


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _create_on_host_network(create: Any) -> Any:
    def create_container(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.network_id == HOST_NETWORK:
            self._container_opts = {**(self._container_opts or {}), "network_mode": HOST_NETWORK}
            self._entrypoint = [
                *self._entrypoint,
                "--runtime-interface-emulator-address",
                f"{LOOPBACK}:{self.rapid_port_host}",
                "--runtime-api-address",
                f"{LOOPBACK}:{free_loopback_port()}",
            ]
        return create(self, *args, **kwargs)

    return create_container


def _create_without_published_ports(create: Any) -> Any:
    """Docker refuses to publish ports of a container on the host's network: it has none apart."""

    def create_container(self: Any, image: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("network_mode") == HOST_NETWORK:
            kwargs.pop("ports", None)
        return create(self, image, *args, **kwargs)

    return create_container


def main() -> Any:
    # .venv-sam's packages: imported only when this runs as the SAM CLI (tools/sam_local.py
    # imports this module from .venv for free_loopback_port).
    from docker.models.containers import ContainerCollection  # type: ignore[import-untyped]
    from samcli.cli.main import cli  # type: ignore[import-not-found]
    from samcli.local.docker.container import Container  # type: ignore[import-not-found]

    Container.create = _create_on_host_network(Container.create)
    ContainerCollection.create = _create_without_published_ports(ContainerCollection.create)
    sys.argv[0] = "sam"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
