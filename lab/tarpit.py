"""A tarpit: accept TCP connections on several ports and never send a byte.

Standalone (stdlib only) so the lab can run it with any Python inside a namespace:
``python tarpit.py --host 198.18.0.120 --ports 21,23,80``. Each connection is held until the peer
closes it or ``--hold`` seconds pass (default 10 minutes); whatever the peer sends is read and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(hold):
            while await reader.read(4096):
                pass
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def serve(host: str, ports: list[int], hold: float) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _hold(reader, writer, hold)

    servers = [await asyncio.start_server(handler, host, port, backlog=128) for port in ports]
    print(f"tarpit listening on {host} ports {ports}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--ports", required=True, help="comma-separated TCP ports")
    parser.add_argument("--hold", type=float, default=600.0, help="seconds to keep a connection open")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, [int(p) for p in args.ports.split(",")], args.hold))


if __name__ == "__main__":
    main()
