"""Backpressure: a slow reader loses nothing and wsgather's memory stays bounded."""

import fcntl
import os
import subprocess
import threading
import time
import unittest

from harness import SANITIZED, WSGATHER, IntegrationTest, PeakRss, kill_process

N = 40000
SIZE = 1000  # 40 MB of payload in all
# About 11 MiB is measured; holding the whole stream would take over 40 MiB.
RSS_LIMIT_KIB = 24 * 1024


class SlowReader(IntegrationTest):

    def test_slow_reader_no_loss_bounded_memory(self):
        server = self.start_server("beast")
        proc = subprocess.Popen([WSGATHER, "--no-reconnect", "--buffer", "64",
                                 server.url(f"/count?n={N}&size={SIZE}")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(kill_process, proc)
        rss = PeakRss(proc.pid)
        self.addCleanup(rss.stop)
        stderr_chunks = []
        stderr_thread = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
        stderr_thread.start()

        out = proc.stdout
        chunks = []
        # Slow phase: small reads with pauses, for about 1.5 s (load shaping:
        # the channel fills and the feed has to stop reading its socket).
        slow_until = time.monotonic() + 1.5
        while time.monotonic() < slow_until:
            chunk = out.read1(4096)
            if not chunk:
                break
            chunks.append(chunk)
            time.sleep(0.01)
        slow_bytes = sum(map(len, chunks))
        # Fast phase: everything else.
        while True:
            chunk = out.read1(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("wsgather did not exit after its output ended")
        stderr_thread.join(5)
        stderr = b"".join(stderr_chunks)

        self.assertEqual(status, 0, stderr)
        data = b"".join(chunks)
        self.assertLess(slow_bytes, len(data) // 2, "the slow phase was not slow: the test proves nothing")
        lines = self.lines_of(data)
        self.assertEqual(len(lines), N)
        self.assertEqual([l["seq"] for l in lines], list(range(1, N + 1)))
        self.assertTrue(all(l["conn"] == 1 for l in lines), "the connection was dropped during the stall")
        self.assertEqual([l["data"]["i"] for l in lines], list(range(1, N + 1)))
        self.assertTrue(all(len(l["data"]["pad"]) == SIZE - len('{"i":%d,"pad":""}' % l["seq"]) for l in lines))

        peak_kib = rss.stop()
        self.assertGreater(peak_kib, 0, "no VmHWM sample was taken")
        print(f"\nwsgather peak RSS: {peak_kib} KiB ({peak_kib / 1024:.1f} MiB) for {len(data)} bytes of output; "
              f"{slow_bytes} bytes read in the slow phase", flush=True)
        if not SANITIZED:
            self.assertLess(peak_kib, RSS_LIMIT_KIB)


class NonBlockingStdout(IntegrationTest):

    # wsgather never changes the blocking mode of stdout, so a descriptor
    # inherited in non-blocking mode must be waited on when it is full.
    def test_inherited_non_blocking_pipe(self):
        server = self.start_server("beast")
        read_end, write_end = os.pipe()
        flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
        fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        proc = subprocess.Popen([WSGATHER, "--no-reconnect", server.url("/count?n=5000&size=1000")],
                                stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE)
        os.close(write_end)
        self.addCleanup(kill_process, proc)
        reader = os.fdopen(read_end, "rb")
        self.addCleanup(reader.close)
        # A reader slower than wsgather: the pipe fills, writev() says EAGAIN.
        chunks = []
        slow_until = time.monotonic() + 0.5
        while time.monotonic() < slow_until:
            chunk = reader.read1(4096)
            if not chunk:
                break
            chunks.append(chunk)
            time.sleep(0.01)
        chunks.append(reader.read())
        status = proc.wait(timeout=30)
        stderr = proc.stderr.read()
        self.assertNotIn(b"Resource temporarily unavailable", stderr)
        self.assertEqual(status, 0, stderr)
        lines = self.lines_of(b"".join(chunks))
        self.assertEqual([l["seq"] for l in lines], list(range(1, 5001)))


if __name__ == "__main__":
    unittest.main()
