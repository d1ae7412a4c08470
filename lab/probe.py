"""TCP connect check, run *inside* a lab namespace (stdlib only).

``ip netns exec <ns> python probe.py --timeout 1 198.18.0.10:3389 198.18.0.20:445`` prints a JSON
object ``{"open": [...], "refused": [...], "silent": [...]}``: open when the TCP handshake completes
(closed right away, nothing sent), refused on a RST or ICMP error, silent when nothing came back
before the timeout (what a dropping firewall looks like).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json


async def _check(endpoint: str, timeout: float) -> str:
    host, _, port = endpoint.rpartition(":")
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, int(port))
    except TimeoutError:
        return "silent"
    except OSError:
        return "refused"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "open"


async def check_all(endpoints: list[str], timeout: float) -> dict[str, list[str]]:
    results = await asyncio.gather(*(_check(e, timeout) for e in endpoints))
    out: dict[str, list[str]] = {"open": [], "refused": [], "silent": []}
    for endpoint, state in zip(endpoints, results, strict=True):
        out[state].append(endpoint)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("endpoints", nargs="*", help="ip:port")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(check_all(args.endpoints, args.timeout))))


if __name__ == "__main__":
    main()
