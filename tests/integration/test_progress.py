"""The progress line: on stderr when it is a terminal and the lines go
elsewhere, redrawn in place every second; never under -q, never into a
pipe, never over lines shown on the same terminal."""

import os
import pty
import re
import signal
import subprocess
import tty
import unittest

from harness import WSGATHER, ChunkReader, IntegrationTest, _popen

# \r, the line, then "erase to the end of the line".
STATUS_RE = re.compile(rb"\r(\d+) msg/s: a (\d+)/s  b (\d+)/s\x1b\[K")
CLEAR = b"\r\x1b[K"


class Terminal:
    """A pseudo-terminal in raw mode, so that bytes pass unchanged. Give
    `slave` to wsgather; `screen()` returns all it wrote, once it exited."""

    def __init__(self):
        master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self._master = os.fdopen(master, "rb", buffering=0)
        self._reader = ChunkReader(self._master, "terminal")
        self._open = True

    def wait_until(self, predicate, what):
        return self._reader.wait_until(predicate, what=what)

    def screen(self):
        self.close_slave()
        # The reader sees the end once no process holds the terminal.
        screen = self._reader.wait_eof()
        self._master.close()
        return screen

    def close_slave(self):
        if self._open:
            self._open = False
            os.close(self.slave)


class Progress(IntegrationTest):

    def open_terminal(self):
        terminal = Terminal()
        self.addCleanup(terminal.close_slave)
        return terminal

    def start(self, *args, stdout, stderr):
        proc = _popen([WSGATHER, *map(str, args)], stdout=stdout, stderr=stderr)
        self._procs.append(proc)
        return proc

    def feeds(self):
        server = self.start_server("beast")
        return ("a=" + server.url("/count?n=100000&rate=200"), "b=" + server.url("/count?n=100000&rate=50"))

    def test_redrawn_in_place_while_the_lines_go_to_a_pipe(self):
        terminal = self.open_terminal()
        proc = self.start(*self.feeds(), stdout=subprocess.PIPE, stderr=terminal.slave)
        output = ChunkReader(proc.stdout, "wsgather stdout")
        terminal.wait_until(lambda data: len(STATUS_RE.findall(data)) >= 2, what="two progress lines")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(self.wait_exit(proc), 0)
        screen = terminal.screen()
        output.wait_eof()

        statuses = STATUS_RE.findall(screen)
        for total, a, b in statuses:
            self.assertLessEqual(abs(int(total) - int(a) - int(b)), 1, screen)  # each rounded on its own
            self.assertGreater(int(a), 0, screen)
        # In place: between two progress lines there is no newline.
        first, second = list(STATUS_RE.finditer(screen))[:2]
        self.assertNotIn(b"\n", screen[first.end():second.start()])
        # A log line erases the progress line, which comes back under it.
        self.assertRegex(screen, rb"\r\x1b\[Kwsgather: stopping: interrupted\n" + STATUS_RE.pattern)
        # The terminal is left clean.
        self.assertTrue(screen.endswith(CLEAR), screen[-200:])
        self.assertEqual(STATUS_RE.sub(b"", screen).replace(CLEAR, b"").count(b"\x1b"), 0, screen)

    def test_shown_with_output_files_even_when_stdout_is_the_terminal(self):
        terminal = self.open_terminal()
        proc = self.start("-o", os.path.join(self.tmp, "out.jsonl"), *self.feeds(), stdout=terminal.slave,
                          stderr=terminal.slave)
        terminal.wait_until(lambda data: STATUS_RE.search(data) is not None, what="a progress line")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertTrue(terminal.screen().endswith(CLEAR))

    def test_never_over_lines_shown_on_the_same_terminal(self):
        terminal = self.open_terminal()
        # The run spans a progress interval and a half.
        proc = self.start("-t", "1.5s", *self.feeds(), stdout=terminal.slave, stderr=terminal.slave)
        self.assertEqual(self.wait_exit(proc), 0)
        screen = terminal.screen()
        self.assertIn(b'{"feed":"a","seq":1,', screen)
        self.assertNotIn(b"msg/s", screen)
        self.assertNotIn(b"\x1b", screen)

    def test_quiet_or_not_a_terminal_means_no_progress_line(self):
        terminal = self.open_terminal()
        proc = self.start("-q", "-t", "1.5s", *self.feeds(), stdout=subprocess.DEVNULL, stderr=terminal.slave)
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertEqual(terminal.screen(), b"")

        run = self.run_wsgather("-t", "1.5s", *self.feeds())  # stderr is a pipe, as under cron
        self.assertStatus(run, 0)
        self.assertNotIn(b"msg/s", run.stderr)


if __name__ == "__main__":
    unittest.main()
