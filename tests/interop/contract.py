"""The interop contract's fixed messages and event lines, for the Python servers and the test.

The contract itself is described at the top of tests/integration/test_interop.py;
ws_server.js and websocketd_script.sh repeat these constants (keep them equal).
"""

import sys

# /json: one text message that is JSON, with spaces between tokens (removed
# by wsgather) and digits that must stay as written.
JSON = '{"a": [1, 2.50, true, null], "b": "x\\"y"}'
# /text: one text message that is not JSON.
TEXT = "hello, w\u00f6rld: not JSON {"
# /binary: one binary message, every byte value once.
BINARY = bytes(range(256))
# /big: one text message of 4 MiB, BLOCK repeated.
BLOCK = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
BIG_REPEAT = 65536
BIG = BLOCK * BIG_REPEAT  # 4,194,304 characters, all ASCII
# The subprotocol a server selects whenever the client offers it.
SUBPROTOCOL = "v2.wsgather"
# The request header /headers reports and sends back.
HEADER = "x-wsgather-test"
# /close: the server closes with this code and reason.
CLOSE_CODE = 4000
CLOSE_REASON = "bye"

PATHS = ("/json", "/text", "/binary", "/big", "/headers", "/close", "/hold")


def emit(line):
    """Prints one event line and flushes it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def close_event(target, code):
    """CLOSE <target> <code>; `none` when no close frame came, or one without a code (1005/1006/None)."""
    return f"CLOSE {target} {code if code and code not in (1005, 1006) else 'none'}"
