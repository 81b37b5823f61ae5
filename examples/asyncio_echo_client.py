"""An asyncio streams echo client.

    python examples/asyncio_echo_client.py PORT MESSAGE [MESSAGE...]

Sends each MESSAGE as a line to 127.0.0.1:PORT, reads the echoed line back and
prints it. Exit status 0 when every echo matched what was sent, 1 otherwise.
"""
import asyncio
import sys


async def talk(port, messages):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ok = True
    try:
        for message in messages:
            line = message.encode("utf-8") + b"\n"
            writer.write(line)
            await writer.drain()
            answer = await asyncio.wait_for(reader.readline(), timeout=10)
            print(answer.decode("utf-8").rstrip("\n"))
            ok = ok and answer == line
        writer.write_eof()  # we are done; the server closes its side
        rest = await asyncio.wait_for(reader.read(), timeout=10)
        ok = ok and rest == b""
    finally:
        writer.close()
        await writer.wait_closed()
    return ok


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: asyncio_echo_client.py PORT MESSAGE [MESSAGE...]")
    ok = asyncio.run(talk(int(sys.argv[1]), sys.argv[2:]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
