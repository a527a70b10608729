"""The network seal with and without an answer server, in a process started as the app is, for
``tests/test_remote_generator.py`` (which runs it under strace).

    python tests/support/remote_seal_driver.py SERVER_URL CLOSED_PORT

Prints one JSON object: what each connection attempt came to, before the server is configured, while it
is, and after the engine is closed; a few pieces of a reply; the model line the app shows.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import main  # noqa: F401 - first: the entry point seals the environment and the network, as in the app
from engine.api import Engine, ServerAddress, Settings
from engine.offline import NetworkSealedError


def attempt(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except NetworkSealedError:
        return "sealed"
    except OSError as error:
        return f"failed: {error}"
    return "connected"


def lookup(name: str) -> str:
    try:
        socket.getaddrinfo(name, 443)
    except NetworkSealedError:
        return "sealed"
    except OSError as error:
        return f"failed: {error}"
    return "resolved"


def drive(url: str, closed_port: int) -> dict[str, object]:
    server = ServerAddress.parse(url)
    report: dict[str, object] = {}
    with Engine(Settings()):
        report["default"] = attempt(server.host, server.port)
    engine = Engine(Settings(answers_from="server", server_url=url, context_size=2048))
    generator = engine.generator()
    report["pieces"] = list(generator.stream_chat([{"role": "user", "content": "Say: ready"}], max_tokens=4,
                                                  temperature=0.0))
    report["server"] = attempt(server.host, server.port)
    report["other port"] = attempt(server.host, closed_port)
    report["other host"] = attempt("192.0.2.1", 80)
    report["lookup"] = lookup("example.com")
    report["title"] = engine.chat_model_title()
    engine.close()
    report["after close"] = attempt(server.host, server.port)
    return report


if __name__ == "__main__":
    print(json.dumps(drive(sys.argv[1], int(sys.argv[2]))))
