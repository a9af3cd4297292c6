#!/bin/bash
# Run wscat (npm wscat 6, installed in bench/node_modules) on one URL, as
# the benchmark's wscat peer:
#
#     bench/peers/wscat.sh URL
#
# wscat reads lines from stdin to send them, and ends (exit 0, at once) when
# stdin ends; so its stdin here is a FIFO opened read-write, of which wscat
# itself holds the write end: it never ends and never delivers a byte. No
# helper process, nothing to clean up. wscat exits by itself when the server
# closes the connection, and the wrapper `exec`s it, so its exit status (and
# its CPU time and RSS) are wscat's own, and signals reach it directly.
#
# What wscat does, not changed here: when stdout is not a terminal it writes
# each message's payload followed by "\n", no prefix, no colour, no prompt,
# and drops its control lines ("Connected", "Disconnected (code: ...)");
# errors go to stderr as "error: MESSAGE". Exit status: 0 on any close, even
# an abnormal one (it ignores the close code), 255 on an error (refused,
# handshake failure). It calls process.exit() on close, which on a pipe or
# socket discards what Node has not yet written: give it a regular file or
# /dev/null as stdout (writes are synchronous there), not a pipe.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: wscat.sh URL" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
wscat=$here/../node_modules/wscat/bin/wscat
if [ ! -f "$wscat" ]; then
    echo "wscat.sh: $wscat not found: run npm install in bench/" >&2
    exit 2
fi

fifo_dir=$(mktemp -d)
mkfifo "$fifo_dir/stdin"
exec 0<>"$fifo_dir/stdin" # O_RDWR: does not block, and never reads EOF
rm -r "$fifo_dir"

exec "${NODE:-node}" "$wscat" --connect "$1"
