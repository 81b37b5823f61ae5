"""The asyncio echo client as 2015-era code: @asyncio.coroutine, yield from, loop=.

    python -m compat run examples/legacy_echo_client.py PORT MESSAGE [MESSAGE...]

Same behaviour as asyncio_echo_client.py. Nothing here runs on Python 3.11+
by itself (``asyncio.coroutine`` is gone, ``loop=`` is a TypeError since
3.10); ``python -m compat run`` puts both back and reports each use once as
a ``compat.LegacyWarning``. ``python -m compat codemod --diff`` on this file
shows the async/await version.
"""
import asyncio
import sys


@asyncio.coroutine
def talk(port, messages, loop):
    reader, writer = yield from asyncio.open_connection("127.0.0.1", port, loop=loop)
    ok = True
    try:
        for message in messages:
            line = message.encode("utf-8") + b"\n"
            writer.write(line)
            yield from writer.drain()
            answer = yield from asyncio.wait_for(reader.readline(), timeout=10, loop=loop)
            print(answer.decode("utf-8").rstrip("\n"))
            ok = ok and answer == line
        writer.write_eof()
        rest = yield from asyncio.wait_for(reader.read(), timeout=10, loop=loop)
        ok = ok and rest == b""
    finally:
        writer.close()
    return ok


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: legacy_echo_client.py PORT MESSAGE [MESSAGE...]")
    loop = asyncio.get_event_loop()
    try:
        ok = loop.run_until_complete(talk(int(sys.argv[1]), sys.argv[2:], loop))
    finally:
        loop.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
