#!/usr/bin/python3
"""Read WebSocket feeds concurrently and write every message as a JSON line.

    /usr/bin/python3 bench/peers/gather.py URL...

The benchmark's Python peer: the design a Python programmer would reach for,
written as they would write it for production. Debian 12's python3 with its
python3-websockets (10.4). One task per URL, all gathered with
asyncio.gather; each message is parsed with json.loads, formatted as a line
and put into one bounded asyncio.Queue, which a single writer task drains to
stdout, flushing whenever the queue runs empty.

Each line: {"feed":URL,"seq":N,"ts":"...Z","data":PAYLOAD}, compact JSON;
seq counts from 1 per feed; ts is the UTC time the message reached this
program's code, to the microsecond.

Exit 0 once every feed has closed normally (close code 1000 or 1001) and
every line is written; 1 if any feed failed (refused, handshake, abnormal
close, a payload that is not JSON...), one line per failed feed on stderr.
A failure does not stop the other feeds: the program ends when all have.
"""

import asyncio
import json
import os
import sys
from datetime import datetime, timezone

import websockets

# The library's defaults are kept (permessage-deflate offered, max_queue=32,
# ping every 20 s, 64 KiB read/write limits), except max_size: the default of
# 1 MiB would fail a feed on a larger message, so it is raised to 64 MiB.
MAX_MESSAGE = 64 * 1024 * 1024
QUEUE_SIZE = 1024


def utc_now():
    # isoformat() is a little cheaper than strftime(); "+00:00" -> "Z".
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


async def read_feed(url, queue):
    seq = 0
    async with websockets.connect(url, max_size=MAX_MESSAGE) as websocket:
        # Ends on a normal close; raises ConnectionClosedError on any other.
        async for message in websocket:
            seq += 1
            line = json.dumps(
                {"feed": url, "seq": seq, "ts": utc_now(), "data": json.loads(message)},
                separators=(",", ":"),
            )
            await queue.put(line)


async def write_lines(queue, out):
    while True:
        line = await queue.get()
        if line is None:
            break
        out.write(line)
        out.write("\n")
        if queue.empty():
            out.flush()
    out.flush()


async def main(urls):
    queue = asyncio.Queue(maxsize=QUEUE_SIZE)
    writer = asyncio.create_task(write_lines(queue, sys.stdout))
    feeds = asyncio.gather(*(read_feed(url, queue) for url in urls), return_exceptions=True)
    await asyncio.wait({feeds, writer}, return_when=asyncio.FIRST_COMPLETED)
    if writer.done():  # stdout failed while feeds were running
        # Nothing more can be written. Closing handshakes behind unread data
        # would wait out the library's timeouts (10 s each): leave at once,
        # the kernel closes the sockets. Quietly for a reader that has gone.
        error = writer.exception()
        if not isinstance(error, BrokenPipeError):
            print(f"gather.py: stdout: {error}", file=sys.stderr)
        os._exit(1)
    results = await feeds
    await queue.put(None)  # after every line already queued
    await writer
    status = 0
    for url, result in zip(urls, results):
        if isinstance(result, BaseException):
            print(f"gather.py: {url}: {type(result).__name__}: {result}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: gather.py URL...", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except BrokenPipeError:
        # The reader went away during the last flush: no second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
