"""``python -m compat demo``: old and new channels on one loop, one thread, one map.

Starts four services side by side:

- an asyncore echo server (``dispatcher`` + ``dispatcher_with_send``);
- an ``async_chat`` line server (lines come back upper-cased);
- an asyncio streams echo server (``asyncio.start_server``);
- an asyncore listener handing each socket to an ``async def`` handler
  (lines come back reversed) through ``compat.aio.adopt_stream``;

then drives concurrent clients against all four, checks every byte, prints
the shared map by channel kind and the traffic each service served, closes
everything with ``asyncore.close_all()`` and exits 0. ``--serve`` keeps the
services running afterwards (Ctrl-C to stop).
"""
import argparse
import asyncio
import importlib.util
import os
import random
import signal
import socket
import sys
import threading
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

from compat import aio, asynchat, asyncore

HOST = "127.0.0.1"


class Traffic:
    """What one service saw: connections and bytes each way."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.connections = 0
        self.bytes_in = 0
        self.bytes_out = 0


# ---------------------------------------------------------------------------
# The four services
# ---------------------------------------------------------------------------


class EchoHandler(asyncore.dispatcher_with_send):
    """asyncore: sends back what it reads."""

    def __init__(self, sock: socket.socket, traffic: Traffic) -> None:
        super().__init__(sock)
        self.traffic = traffic

    def handle_read(self) -> None:
        data = self.recv(65536)
        if data:
            self.traffic.bytes_in += len(data)
            self.traffic.bytes_out += len(data)
            self.send(data)

    def handle_close(self) -> None:
        self.close()


class LineChannel(asynchat.async_chat):
    """async_chat: answers each CRLF-terminated line upper-cased."""

    def __init__(self, sock: socket.socket, traffic: Traffic) -> None:
        super().__init__(sock)
        self.traffic = traffic
        self.set_terminator(b"\r\n")

    def collect_incoming_data(self, data: bytes) -> None:
        self._collect_incoming_data(data)

    def found_terminator(self) -> None:
        line = self._get_data()
        reply = line.upper() + b"\r\n"
        self.traffic.bytes_in += len(line) + 2
        self.traffic.bytes_out += len(reply)
        self.push(reply)


class Listener(asyncore.dispatcher):
    """asyncore: accepts and gives each socket to ``serve(sock)``."""

    def __init__(self, serve: Any, traffic: Traffic, port: int = 0) -> None:
        super().__init__()
        self.serve = serve
        self.traffic = traffic
        self.create_socket()
        self.set_reuse_addr()
        self.bind((HOST, port))
        self.listen(128)
        self.port = self.socket.getsockname()[1]

    def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
        self.traffic.connections += 1
        self.serve(sock)


def stream_echo(traffic: Traffic) -> Any:
    """asyncio streams: sends back what it reads."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        traffic.connections += 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                traffic.bytes_in += len(data)
                traffic.bytes_out += len(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handler


def reverse_lines(traffic: Traffic) -> Any:
    """An ``async def`` handler a legacy listener hands sockets to: lines reversed."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\r\n"):
                    break
                reply = line[:-2][::-1] + b"\r\n"
                traffic.bytes_in += len(line)
                traffic.bytes_out += len(reply)
                writer.write(reply)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handler


# ---------------------------------------------------------------------------
# Clients (asyncio, on the same loop)
# ---------------------------------------------------------------------------


class Barrier:
    """All clients pause here once connected, so the map can be counted at its peak."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.all_here = asyncio.Event()
        self.go = asyncio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived == self.parties:
            self.all_here.set()
        await self.go.wait()


async def echo_client(port: int, rng: random.Random, rounds: int, barrier: Barrier) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    checked = 0
    try:
        for i in range(rounds):
            payload = os.urandom(rng.choice([1, 7, 1000, 65536, 200_000]))
            writer.write(payload)
            got = await reader.readexactly(len(payload))
            if got != payload:
                raise AssertionError(f"echo on port {port}: {len(payload)} bytes sent, different bytes back")
            checked += len(payload)
            if i == 0:
                await barrier.wait()
    finally:
        writer.close()
        await writer.wait_closed()
    return checked


async def line_client(port: int, rng: random.Random, rounds: int, barrier: Barrier, expect: Any) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    checked = 0
    try:
        for i in range(rounds):
            lines = [os.urandom(rng.randint(0, 300)).hex().encode() for _ in range(rng.randint(1, 20))]
            blob = b"".join(line + b"\r\n" for line in lines)
            cut = rng.randint(0, len(blob))  # a line split across two writes
            writer.write(blob[:cut])
            await writer.drain()
            writer.write(blob[cut:])
            for line in lines:
                got = await reader.readuntil(b"\r\n")
                if got != expect(line) + b"\r\n":
                    raise AssertionError(f"lines on port {port}: wrong reply to a {len(line)}-byte line")
                checked += len(line) + 2
            if i == 0:
                await barrier.wait()
    finally:
        writer.close()
        await writer.wait_closed()
    return checked


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def kind_of(channel: Any, service_ports: "set[int]") -> str:
    """A short description of what a map entry is."""
    if isinstance(channel, aio.TransportChannel):
        local = channel.transport.get_extra_info("sockname")
        side = "served" if local and local[1] in service_ports else "the demo's clients"
        return f"asyncio transport ({side})"
    if isinstance(channel, aio.AsyncioChannel):
        return channel.kind
    if isinstance(channel, asynchat.async_chat):
        return f"async_chat ({type(channel).__name__})"
    if getattr(channel, "accepting", False):
        return f"asyncore listener ({type(channel).__name__})"
    return f"asyncore channel ({type(channel).__name__})"


def map_table(snapshot: Dict[int, Any], service_ports: "set[int]") -> List[str]:
    counts = Counter(kind_of(ch, service_ports) for ch in snapshot.values())
    width = max([len(k) for k in counts] + [20])
    rows = [f"  {'channel kind':<{width}}  {'count':>5}", f"  {'-' * width}  {'-' * 5}"]
    rows += [f"  {kind:<{width}}  {n:>5}" for kind, n in sorted(counts.items())]
    rows.append(f"  {'total':<{width}}  {sum(counts.values()):>5}")
    return rows


def traffic_table(services: List[Tuple[Traffic, int, int]]) -> List[str]:
    rows = [
        f"  {'service':<34} {'port':>5} {'conns':>5} {'bytes in':>10} {'bytes out':>10} {'checked':>10}",
        f"  {'-' * 34} {'-' * 5} {'-' * 5} {'-' * 10} {'-' * 10} {'-' * 10}",
    ]
    for traffic, port, checked in services:
        rows.append(
            f"  {traffic.name:<34} {port:>5} {traffic.connections:>5} {traffic.bytes_in:>10} "
            f"{traffic.bytes_out:>10} {checked:>10}"
        )
    return rows


async def demo(clients: int, rounds: int, serve: bool, seed: Optional[int], out: Any) -> int:
    rng = random.Random(seed)
    echo_t = Traffic("asyncore echo (dispatcher)")
    chat_t = Traffic("async_chat lines (upper-case)")
    aio_t = Traffic("asyncio streams echo")
    hand_t = Traffic("asyncore listener -> async def")

    try:
        return await _run(clients, rounds, serve, rng, out, (echo_t, chat_t, aio_t, hand_t))
    finally:
        asyncore.close_all(ignore_all=True)  # also when a check failed: leave no socket open


async def _run(clients: int, rounds: int, serve: bool, rng: random.Random, out: Any, counters: Tuple[Traffic, ...]) -> int:
    loop = asyncio.get_running_loop()
    echo_t, chat_t, aio_t, hand_t = counters
    echo = Listener(lambda sock: EchoHandler(sock, echo_t), echo_t)
    chat = Listener(lambda sock: LineChannel(sock, chat_t), chat_t)
    server = await asyncio.start_server(stream_echo(aio_t), HOST, 0)
    aio_port = server.sockets[0].getsockname()[1]
    handoff = Listener(lambda sock: aio.adopt_stream(sock, reverse_lines(hand_t)), hand_t)

    print(f"compat demo: one loop ({type(loop).__name__}), one thread ({threading.current_thread().name})", file=out)
    barrier = Barrier(4 * clients)
    jobs = []
    for _ in range(clients):
        jobs.append(echo_client(echo.port, random.Random(rng.random()), rounds, barrier))
        jobs.append(line_client(chat.port, random.Random(rng.random()), rounds, barrier, bytes.upper))
        jobs.append(echo_client(aio_port, random.Random(rng.random()), rounds, barrier))
        jobs.append(line_client(handoff.port, random.Random(rng.random()), rounds, barrier, lambda b: b[::-1]))
    gathered = asyncio.gather(*jobs)
    waiter = asyncio.ensure_future(barrier.all_here.wait())
    done, _ = await asyncio.wait({gathered, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if gathered in done:  # a client failed before everyone connected
        waiter.cancel()
        gathered.result()
    snapshot = dict(asyncore.socket_map)
    barrier.go.set()
    checked = await gathered
    per = [sum(checked[i::4]) for i in range(4)]

    print(f"\nshared map (compat.asyncore.socket_map) with all {4 * clients} clients connected:", file=out)
    print("\n".join(map_table(snapshot, {echo.port, chat.port, aio_port, handoff.port})), file=out)
    print("\ntraffic (every byte checked by the clients):", file=out)
    services = [(echo_t, echo.port, per[0]), (chat_t, chat.port, per[1]), (aio_t, aio_port, per[2]), (hand_t, handoff.port, per[3])]
    print("\n".join(traffic_table(services)), file=out)
    for traffic, _, got in services:
        if traffic.bytes_out != got:
            raise AssertionError(f"{traffic.name}: served {traffic.bytes_out} bytes, clients checked {got}")

    if serve:
        await serve_until_signalled(out)
    asyncore.close_all()  # legacy channels and the asyncio server alike
    print(f"\nasyncore.close_all(): {len(asyncore.socket_map)} channels left; all checks passed", file=out)
    return 0


async def serve_until_signalled(out: Any) -> None:
    """Keep serving until SIGINT/SIGTERM; the handler is in place before we say so."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # A loop signal handler, not KeyboardInterrupt: that one can land in any
    # callback (or a __del__, where it is swallowed) instead of stopping us.
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: Ctrl-C still raises
    print("\nserving; Ctrl-C to stop", file=out)
    out.flush()
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def main(argv: List[str]) -> int:
    """Run the demo; 0 when every byte came back right."""
    parser = argparse.ArgumentParser(
        prog="python -m compat demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Old and new channels on one loop, one thread, one map: an asyncore echo server,\n"
            "an async_chat line server, an asyncio streams echo server and an asyncore\n"
            "listener handing sockets to an async def handler, driven by concurrent clients;\n"
            "every byte is checked, then the shared map and the traffic are printed."
        ),
        epilog=(
            "exit status:\n"
            "  0  every byte came back right (or --serve stopped by Ctrl-C)\n"
            "  1  a check failed\n"
            "  2  bad arguments, or --uvloop without uvloop installed"
        ),
    )
    parser.add_argument("--serve", action="store_true", help="keep serving after the checks (Ctrl-C to stop)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients per service (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="exchanges per client (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="seed for sizes and line splits")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.rounds < 1:
        parser.error("--clients and --rounds must be at least 1")
    factory = aio.new_event_loop
    if args.uvloop:
        if importlib.util.find_spec("uvloop") is None:
            print("compat demo: --uvloop needs uvloop (pip install uvloop, or '.[uvloop]' from compat's checkout)", file=sys.stderr)
            return 2
        factory = aio.new_uvloop_event_loop  # a loop factory: no event loop policy
    try:
        return aio.run(demo(args.clients, args.rounds, args.serve, args.seed, sys.stdout), loop_factory=factory)
    except KeyboardInterrupt:
        asyncore.close_all(ignore_all=True)
        return 0
    except AssertionError as exc:
        print(f"compat demo: FAILED: {exc}", file=sys.stderr)
        return 1
