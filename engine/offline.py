"""Nothing leaves the machine: every library's call home is switched off before the library loads.

onnxruntime resolves a Microsoft telemetry host from its native threads about 9 s after an
``InferenceSession`` is created, unless ``ORT_DISABLE_TELEMETRY=1`` is in the environment when it is
imported (``onnxruntime.disable_telemetry_events()`` afterwards still left lookups). A Python socket
guard cannot see native calls, so the setting goes into the environment first thing in every process:
``main.py`` (the app, the CLI and the frozen app) calls ``seal_environment`` before any other import,
the parser child calls it again, and child processes inherit it.

``seal_network`` then refuses, in the same processes, every internet socket of Python code (loopback too)
and every name lookup, but for the one host ``allow`` names: the answer server, when Settings say "a server
at URL".
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

# Forced, not defaulted: a value of 0 left in someone's shell must not turn telemetry back on.
SEALED_ENVIRONMENT: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime (the embedder)
    "HF_HUB_OFFLINE": "1",  # huggingface_hub, pulled in beside tokenizers: never reach the hub
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",  # the cross-tool convention (https://consoledonottrack.com)
}

# Imported before the seal, these may already have read their settings.
_WATCHED_MODULES = ("onnxruntime", "huggingface_hub", "tokenizers")


def seal_environment() -> list[str]:
    """Put every off switch into ``os.environ`` (and so into every child process).

    Returns the watched libraries that were imported too early for the seal to be sure to reach them,
    so callers and tests can tell; an empty list is the normal case.
    """
    os.environ.update(SEALED_ENVIRONMENT)
    return [name for name in _WATCHED_MODULES if name in sys.modules]


def is_sealed(environment: dict[str, str] | None = None) -> bool:
    current = os.environ if environment is None else environment
    return all(current.get(key) == value for key, value in SEALED_ENVIRONMENT.items())


class NetworkSealedError(PermissionError):
    """A connection or name lookup the network seal refused."""


# purpose ("answer server") -> (host, port): the only places this process may reach, set from the settings.
_allowed: dict[str, tuple[str, int]] = {}
_addresses: dict[tuple[str, int], frozenset[str]] = {}  # each allowed host's resolved IP addresses
_network_sealed = False
_LOOKUPS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                      "socket.gethostbyaddr", "socket.getnameinfo"})
# Windows makes socket.socketpair() (the GUI's signal wake-up) from a TCP connection to itself on loopback.
_LOOPBACK_IS_LOCAL_PAIR = os.name == "nt"


def seal_network() -> None:
    """From now on, refuse every internet connection and name lookup this process makes, except to a host that
    ``allow`` names (the answer server the person configured). ``main.py`` and the parser child call it.

    An audit hook (PEP 578), so it sees every Python socket whatever library opens it, and nothing can remove
    it. Unix sockets pass. Native code's own sockets bypass it: ``SEALED_ENVIRONMENT`` covers those.
    """
    global _network_sealed
    if not _network_sealed:
        sys.addaudithook(_audit)
        _network_sealed = True


def allow(purpose: str, endpoint: tuple[str, int] | None) -> None:
    """Let this process reach ``endpoint`` (host, port) for ``purpose``, replacing what that purpose allowed
    before; None takes the permission back."""
    if endpoint is None:
        _allowed.pop(purpose, None)
    else:
        _allowed[purpose] = (endpoint[0].lower(), endpoint[1])


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _may_connect(address):
            raise NetworkSealedError(f"Hushdocs works offline: the connection to {_describe(address)} was refused "
                                     f"({_permitted()})")
    elif event in _LOOKUPS:
        host = args[0][0] if isinstance(args[0], tuple) else args[0]
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if not any(name.lower() == allowed_host for allowed_host, _ in _allowed.values()):
            what = f"reaching {name}" if _ip(name) else f"looking up {name!r}"
            raise NetworkSealedError(f"Hushdocs works offline: {what} was refused ({_permitted()})")


def _may_connect(address: tuple[Any, ...]) -> bool:
    host, port = str(address[0]), address[1]
    ip = _ip(host)
    if ip is None:  # a name: connect() looks it up itself
        return (host.lower(), port) in _allowed.values()
    if _LOOPBACK_IS_LOCAL_PAIR and ipaddress.ip_address(ip).is_loopback:
        return True
    return any(port == allowed_port and (ip in _addresses_of(name, port) or ip in _addresses_of(name, port, fresh=True))
               for name, allowed_port in _allowed.values())


def _addresses_of(host: str, port: int, *, fresh: bool = False) -> frozenset[str]:
    """The IP addresses ``host`` names, looked up once and again only when a connection misses them (the name
    may have moved). The lookup passes the seal: its host is allowed."""
    literal = _ip(host)
    if literal is not None:
        return frozenset({literal})
    if fresh or (host, port) not in _addresses:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            found = []
        _addresses[(host, port)] = frozenset(filter(None, (_ip(entry[4][0]) for entry in found)))
    return _addresses[(host, port)]


def _ip(text: object) -> str | None:
    """``text`` as a normalised IP address ("::1", "127.0.0.1"), or None when it is a name."""
    try:
        return str(ipaddress.ip_address(str(text).split("%")[0]))
    except ValueError:
        return None


def _describe(address: tuple[Any, ...]) -> str:
    return f"[{address[0]}]:{address[1]}" if ":" in str(address[0]) else f"{address[0]}:{address[1]}"


def _permitted() -> str:
    if not _allowed:
        return "no server is configured"
    return "only " + ", ".join(f"the {purpose} {host}:{port}" for purpose, (host, port) in _allowed.items())
