#!/usr/bin/env python3
"""wsgather against its peers, on the same workloads in the same run.

Run by scripts/bench, which builds the binaries and installs the peers first:

    bench/bench.py [--runs 5] [--only W1,W5] [--out FILE] [--readme]

Every workload first checks each tool's output (every message of every feed
present once, in order), then times the runs to /dev/null, the tools taking
turns so that a noisy neighbour slows them all alike. Figures are medians
with min-max; ratios are against wsgather measured in the same run.
Everything happens on 127.0.0.1 and every run is bounded in time.
"""

import argparse
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("WSGATHER_BUILD", ROOT / "build"))
WSGATHER = BUILD / "app" / "wsgather"
SERVER = BUILD / "bench" / "wsgather-bench-server"
CEILING = BUILD / "bench" / "wsgather-bench-ceiling"
LATENCY_READER = BUILD / "bench" / "wsgather-bench-latency"
PYTHON = "/usr/bin/python3"  # Debian's, with python3-websockets
NODE = os.environ.get("NODE", "node")
TIME = "/usr/bin/time"  # GNU time (Debian package time), for peak RSS

RUN_TIMEOUT = 300.0  # seconds; a run that takes longer has failed
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# --- Tools ------------------------------------------------------------------

@dataclass
class Tool:
    name: str
    command: object          # (list of (name, url)) -> argv
    output: str              # "jsonl", "wscat" (payloads) or "counts": how to read what it wrote
    multi_feed: bool = True  # wscat takes one URL
    writes: bool = True      # the ceiling client writes nothing per message


def wsgather_argv(feeds, *options):
    return [str(WSGATHER), "-q", "--no-reconnect", *options] + [f"{name}={url}" for name, url in feeds]


TOOLS = [
    Tool("wsgather", wsgather_argv, "jsonl"),
    Tool("ceiling", lambda feeds: [str(CEILING)] + [url for _, url in feeds], "counts", writes=False),
    Tool("node-ws", lambda feeds: [NODE, str(ROOT / "bench/peers/gather.js")] + [url for _, url in feeds], "jsonl"),
    Tool("python-websockets", lambda feeds: [PYTHON, str(ROOT / "bench/peers/gather.py")] + [url for _, url in feeds],
         "jsonl"),
    Tool("wscat", lambda feeds: [str(ROOT / "bench/peers/wscat.sh"), feeds[0][1]], "wscat", multi_feed=False),
]

# Measured beside the default on the workloads with more than one feed, where
# a second I/O thread can help (docs/performance.md, "More I/O threads").
WSGATHER_THREADS = Tool("wsgather --threads 2", lambda feeds: wsgather_argv(feeds, "--threads", "2"), "jsonl")
# The default coalesces busy feeds' reads (--coalesce auto); this reads every
# message as it comes. Measured beside it where feeds are many, and on
# latency (docs/performance.md, "Coalescing reads").
WSGATHER_NO_COALESCE = Tool("wsgather --coalesce 0", lambda feeds: wsgather_argv(feeds, "--coalesce", "0"), "jsonl")


# --- The load server ----------------------------------------------------------

class LoadServer:
    """bench/load_server.cpp as a child process on an ephemeral loopback port."""

    def __init__(self):
        self.process = subprocess.Popen([str(SERVER)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.stop()
            raise RuntimeError(f"load server did not start (said {line!r})")
        self.port = int(line[1])

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self):
        return process_cpu_seconds(self.process.pid)

    def wait_open(self, count, deadline):
        """Waits for the server to report `count` idle connections open; False at the deadline."""
        found = threading.Event()

        def watch():
            for line in self.process.stdout:
                words = line.split()
                if len(words) == 2 and words[0] == "OPEN" and int(words[1]) >= count:
                    found.set()
                    return

        threading.Thread(target=watch, daemon=True).start()
        return found.wait(max(0.0, deadline - time.monotonic()))

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def process_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime, stime


def process_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- One run ------------------------------------------------------------------

@dataclass
class Sample:
    wall: float
    cpu: float
    rss_kib: int
    server_cpu: float
    status: int
    stderr: str


def spawn(argv, stdout):
    """Starts a tool in its own process group, its stderr kept in a temporary file."""
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=errors, start_new_session=True)
    process.errors = errors
    return process


def reap(process, started, server):
    """Waits for the process with a bound; returns its Sample."""
    timer = threading.Timer(RUN_TIMEOUT, lambda: os.killpg(process.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, server.cpu_seconds() if server else 0.0,
                  process.returncode, "")


def stderr_text(process):
    process.errors.seek(0)
    text = process.errors.read().decode(errors="replace")[-2000:]
    process.errors.close()
    return text


def run_once(argv, server, stdout, measure_rss=False):
    """One run. With measure_rss, the peak RSS comes from GNU time (which
    costs a few milliseconds of wall time): the ru_maxrss that wait4 reports
    here would include this script's own RSS, which a child inherits at fork
    and keeps as its high-water mark across exec."""
    server_cpu = server.cpu_seconds()
    with tempfile.NamedTemporaryFile("r") as usage:
        if measure_rss:
            argv = [TIME, "-f", "%M", "-o", usage.name] + argv
        started = time.perf_counter()
        process = spawn(argv, stdout)
        sample = reap(process, started, server)
        sample.rss_kib = int(usage.read().split()[-1]) if measure_rss else 0
    sample.server_cpu -= server_cpu
    sample.stderr = stderr_text(process)
    return sample


# --- Reading what a tool wrote -------------------------------------------------

N_FIELD = re.compile(rb'"n":\s*(\d+)')


def messages_by_feed(tool, feeds, data):
    """What the tool wrote, as {feed url: [message numbers in order]} or {url: count}."""
    by_name = {name: url for name, url in feeds}
    result = {url: [] for _, url in feeds}
    if tool.output == "counts":
        for line in data.decode().splitlines():
            url, count = line.rsplit(" ", 1)
            result[url] = int(count)
        return result
    for line in data.split(b"\n"):
        if not line:
            continue
        if tool.output == "wscat":  # the payload alone, when stdout is not a terminal
            result[feeds[0][1]].append(json.loads(line)["n"])
            continue
        record = json.loads(line)
        url = by_name.get(record["feed"], record["feed"])
        result[url].append(record["data"]["n"])
    return result


def check_output(tool, feeds, count, data):
    """An error message, or None when every feed has messages 1..count in order."""
    got = messages_by_feed(tool, feeds, data)
    for _, url in feeds:
        numbers = got.get(url)
        if tool.output == "counts":
            if numbers != count:
                return f"{url}: {numbers} messages, expected {count}"
        elif numbers != list(range(1, count + 1)):
            first_bad = next((i for i, n in enumerate(numbers) if n != i + 1), len(numbers))
            return f"{url}: {len(numbers)} messages, expected {count}; first wrong at position {first_bad + 1}"
    return None


# --- Workloads -----------------------------------------------------------------

@dataclass
class Throughput:
    key: str
    title: str
    feeds: int
    count: int
    size: int
    mode: str = "batched"

    def urls(self, server):
        return [(f"f{i}", server.url(f"/stream/{i}?count={self.count}&size={self.size}&mode={self.mode}"))
                for i in range(1, self.feeds + 1)]


@dataclass
class Result:
    tool: Tool
    samples: list = field(default_factory=list)
    rss_kib: int = 0  # peak, from the checked run
    error: str = ""


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt):
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def run_throughput(workload, tools, runs, log):
    total_messages = workload.feeds * workload.count
    total_bytes = total_messages * workload.size
    with LoadServer() as server:
        feeds = workload.urls(server)
        results = [Result(tool) for tool in tools if tool.multi_feed or workload.feeds == 1]
        for result in results:
            # The checked run also gives the peak RSS: the timed runs below
            # go without the measuring wrapper.
            with tempfile.TemporaryFile() as out:
                sample = run_once(result.tool.command(feeds), server, out, measure_rss=True)
                out.seek(0)
                data = out.read()
            result.rss_kib = sample.rss_kib
            if sample.status != 0:
                result.error = f"exit status {sample.status}: {sample.stderr.strip()}"
            else:
                result.error = check_output(result.tool, feeds, workload.count, data) or ""
            log(f"  {result.tool.name}: output {'checked' if not result.error else 'WRONG: ' + result.error}")
        for run in range(runs):
            for result in results:
                if result.error:
                    continue
                with open(os.devnull, "wb") as null:
                    sample = run_once(result.tool.command(feeds), server, null)
                if sample.status != 0:
                    result.error = f"run {run + 1}: exit status {sample.status}: {sample.stderr.strip()}"
                    continue
                result.samples.append(sample)
            log(f"  run {run + 1}/{runs}: " + ", ".join(
                f"{r.tool.name} {r.samples[-1].wall:.3f}s" for r in results if r.samples and not r.error))

    base = next((r for r in results if r.tool.name == "wsgather" and r.samples), None)
    base_wall = median([s.wall for s in base.samples]) if base else float("nan")
    rows = []
    for r in results:
        if not r.samples:
            rows.append([r.tool.name, f"failed: {r.error}"] + [""] * 7)
            continue
        walls = [s.wall for s in r.samples]
        wall = median(walls)
        rows.append([
            r.tool.name,
            spread(walls, lambda v: f"{v:.3f}"),
            f"{total_messages / wall:,.0f}",
            f"{total_bytes / wall / 1e6:,.1f}",
            f"{median([s.cpu for s in r.samples]):.2f}",
            f"{r.rss_kib / 1024:.1f}",
            f"{median([s.server_cpu for s in r.samples]):.2f}",
            f"{wall / base_wall:.2f}×",
            "" if not r.error else r.error,
        ])
    header = ["tool", "wall s, median (min–max)", "msg/s", "MB/s", "CPU s", "peak RSS MiB (checked run)", "server CPU s",
              "× wsgather", "note"]
    summary = {r.tool.name: median([s.wall for s in r.samples]) for r in results if r.samples}
    summary.update({f"{r.tool.name}.cpu": median([s.cpu for s in r.samples]) for r in results if r.samples})
    return table(header, rows), summary


def run_latency(tools, runs, log, feeds_n=8, rate=5000, seconds=10):
    count = rate * seconds
    rows, summary = [], {}
    with LoadServer() as server:
        feeds = [(f"f{i}", server.url(f"/stream/{i}?count={count}&size=100&mode=frame&rate={rate}"))
                 for i in range(1, feeds_n + 1)]
        for tool in tools:
            if not tool.multi_feed:
                continue
            measure = measure_latency if tool.writes else measure_floor
            per_run, error = [], ""
            for _ in range(runs):
                latencies, data, sample = measure(tool, feeds, server)
                if sample.status != 0:
                    error = f"exit status {sample.status}: {sample.stderr.strip()}"
                    break
                error = check_output(tool, feeds, count, data) or ""
                if error:
                    break
                per_run.append(latencies)
            if error:
                rows.append([tool.name, f"failed: {error}", "", "", ""])
                log(f"  {tool.name}: WRONG: {error}")
                continue
            p50 = median([percentile(l, 50) for l in per_run])
            p99 = median([percentile(l, 99) for l in per_run])
            top = median([l[-1] for l in per_run])
            summary[tool.name] = (p50, p99, top)
            rows.append([tool.name, f"{p50:.3f}", f"{p99:.3f}", f"{top:.3f}", str(len(per_run))])
            log(f"  {tool.name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {top:.3f} ms")
    header = ["tool", "p50 ms", "p99 ms", "max ms", "runs"]
    return table(header, rows), summary


def measure_latency(tool, feeds, server):
    """One run with stdout read by wsgather-bench-latency: each line's
    latency is the time of the read that brought it minus the send time the
    server embedded in it."""
    read_fd, write_fd = os.pipe()
    with tempfile.NamedTemporaryFile() as data_file, tempfile.TemporaryFile() as latency_file:
        reader = subprocess.Popen([str(LATENCY_READER), data_file.name], stdin=read_fd, stdout=latency_file)
        os.close(read_fd)
        started = time.perf_counter()
        process = spawn(tool.command(feeds), write_fd)
        os.close(write_fd)
        sample = reap(process, started, server)
        if reader.wait(timeout=RUN_TIMEOUT) != 0:
            raise RuntimeError(f"wsgather-bench-latency failed with exit status {reader.returncode}")
        sample.stderr = stderr_text(process)
        latencies = read_latencies(latency_file)
        data = data_file.read()
    return latencies, data, sample


def measure_floor(tool, feeds, server):
    """One run of the ceiling client, which takes each message's latency
    itself as it reads it: no output and no reader, the floor for W5."""
    with tempfile.NamedTemporaryFile("r") as latency_file, tempfile.TemporaryFile() as out:
        argv = tool.command(feeds)
        argv[1:1] = ["--latency", latency_file.name]
        sample = run_once(argv, server, out)
        out.seek(0)
        data = out.read()
        latencies = read_latencies(latency_file)
    return latencies, data, sample


def read_latencies(file):
    """What wsgather-bench-latency or the ceiling client wrote: microseconds,
    one per line; returned in milliseconds, sorted."""
    file.seek(0)
    return sorted(int(line) / 1000.0 for line in file.read().split())


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run_idle(tools, counts, log, idle_seconds=5.0, connect_limit=60.0):
    rows, summary = [], {}
    for tool in tools:
        if not tool.multi_feed:
            continue
        baseline = None
        for n in [1] + counts:
            with LoadServer() as server:
                feeds = [(f"i{i}", server.url(f"/idle/{i}")) for i in range(1, n + 1)]
                started = time.monotonic()
                process = spawn(tool.command(feeds), subprocess.DEVNULL)
                connected = server.wait_open(n, started + connect_limit)
                connect_time = time.monotonic() - started
                if connected:
                    rss = process_rss_kib(process.pid)
                    cpu_before = process_cpu_seconds(process.pid)
                    time.sleep(idle_seconds)  # the measurement itself: CPU used while nothing happens
                    idle_cpu = process_cpu_seconds(process.pid) - cpu_before
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if n == 1:
                baseline = rss if connected else None
                continue
            if not connected or baseline is None:
                rows.append([tool.name, str(n), f"not all connected within {connect_limit:.0f} s", "", "", ""])
                log(f"  {tool.name} × {n}: not all connected within {connect_limit:.0f} s")
                continue
            per_conn = (rss - baseline) / (n - 1)
            summary[(tool.name, n)] = (connect_time, per_conn, idle_cpu)
            rows.append([tool.name, f"{n:,}", f"{connect_time:.2f}", f"{rss / 1024:.1f}", f"{per_conn:.1f}",
                         f"{idle_cpu:.2f}"])
            log(f"  {tool.name} × {n}: connected in {connect_time:.2f} s, {per_conn:.1f} KiB per connection, "
                f"{idle_cpu:.2f} CPU s idle over {idle_seconds:.0f} s")
    header = ["tool", "connections", "all connected after s", "RSS MiB", "KiB per connection",
              f"CPU s in {idle_seconds:.0f} s idle"]
    return table(header, rows), summary


def run_startup(tools, runs, log):
    rows, summary = [], {}
    with LoadServer() as server:
        feeds = [("f1", server.url("/stream/1?count=1&size=100"))]
        for tool in tools:
            walls, error = [], ""
            for _ in range(runs):
                with tempfile.TemporaryFile() as out:
                    sample = run_once(tool.command(feeds), server, out)
                    out.seek(0)
                    data = out.read()
                if sample.status != 0:
                    error = f"exit status {sample.status}: {sample.stderr.strip()}"
                    break
                error = check_output(tool, feeds, 1, data) or ""
                if error:
                    break
                walls.append(sample.wall * 1000)
            if error:
                rows.append([tool.name, f"failed: {error}"])
                continue
            summary[tool.name] = median(walls)
            rows.append([tool.name, spread(walls, lambda v: f"{v:.1f}")])
            log(f"  {tool.name}: {median(walls):.1f} ms")
    return table(["tool", "start to exit ms, median (min–max)"], rows), summary


# --- Report --------------------------------------------------------------------

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok):
    return "met" if ok else "**not met**"


def targets(summary):
    """The issue's targets, checked against this run's medians."""
    lines = []
    for key in ("W1", "W2", "W3"):
        s = summary.get(key)
        if not s or "wsgather" not in s:
            continue
        w = s["wsgather"]
        if "ceiling" in s:
            lines.append(f"- {key}: wsgather {w / s['ceiling']:.2f}× the ceiling client (target ≤ 1.25×): "
                         f"{verdict(w <= 1.25 * s['ceiling'])}")
        if "node-ws" in s:
            lines.append(f"- {key}: node-ws {s['node-ws'] / w:.1f}× slower than wsgather (target ≥ 3×): "
                         f"{verdict(s['node-ws'] >= 3 * w)}")
        if "python-websockets" in s:
            # Where even the ceiling client is not 8x faster, no client could meet the target.
            bound = (f" (the ceiling client itself: {s['python-websockets'] / s['ceiling']:.1f}×)"
                     if "ceiling" in s else "")
            lines.append(f"- {key}: python-websockets {s['python-websockets'] / w:.1f}× slower (target ≥ 8×): "
                         f"{verdict(s['python-websockets'] >= 8 * w)}{bound}")
    s = summary.get("W4")
    if s and "wsgather" in s and "node-ws" in s:
        lines.append(f"- W4: wsgather {s['wsgather']:.3f} s / {s['wsgather.cpu']:.2f} CPU s against node-ws "
                     f"{s['node-ws']:.3f} s / {s['node-ws.cpu']:.2f} CPU s (target: faster, on less CPU): "
                     f"{verdict(s['wsgather'] < s['node-ws'] and s['wsgather.cpu'] < s['node-ws.cpu'])}")
    name = WSGATHER_NO_COALESCE.name
    if s and name in s:
        lines.append(f"- W4: {name} {s[name]:.3f} s / {s[name + '.cpu']:.2f} CPU s: every message read as it "
                     f"comes (no target)")
    s = summary.get("W5")
    if s and "wsgather" in s:
        p50, p99, top = s["wsgather"]
        lines.append(f"- W5: wsgather p99 {p99:.3f} ms (target < 1 ms): {verdict(p99 < 1)}; max {top:.3f} ms "
                     f"(target < 10 ms): {verdict(top < 10)}")
    if s and "ceiling" in s:
        p50, p99, top = s["ceiling"]
        lines.append(f"- W5: the ceiling client, which writes nothing, p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
                     f"max {top:.3f} ms: the floor on this machine (no target)")
    if s and WSGATHER_NO_COALESCE.name in s:
        p50, p99, top = s[WSGATHER_NO_COALESCE.name]
        lines.append(f"- W5: {WSGATHER_NO_COALESCE.name} p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {top:.3f} ms: "
                     f"at 5,000 messages/s a feed is not busy, so the default should match it (no target)")
    s = summary.get("W6")
    if s:
        for (tool, n), (connect_time, per_conn, idle_cpu) in sorted(s.items()):
            if tool != "wsgather":
                continue
            lines.append(f"- W6: wsgather × {n:,}: {per_conn:.1f} KiB per connection (target ≤ 8): "
                         f"{verdict(per_conn <= 8)}; idle CPU {idle_cpu:.2f} s (target 0): "
                         f"{verdict(idle_cpu == 0)}" +
                         (f"; connected in {connect_time:.2f} s (target < 3 s): {verdict(connect_time < 3)}"
                          if n >= 10000 else ""))
    s = summary.get("W7")
    if s and "wsgather" in s:
        lines.append(f"- W7: wsgather {s['wsgather']:.1f} ms from start to exit (target < 10 ms): "
                     f"{verdict(s['wsgather'] < 10)}")
    return "\n".join(lines)


def machine_line():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}; Linux {os.uname().release}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool and workload (default 5)")
    parser.add_argument("--only", default="W1,W2,W3,W4,W5,W6,W7", help="comma-separated workloads")
    parser.add_argument("--idle", default="1000,10000", help="W6 connection counts (default 1000,10000)")
    parser.add_argument("--out", help="write the report here (default: stdout only)")
    parser.add_argument("--readme", action="store_true", help="put the report's summary into README.md")
    args = parser.parse_args()
    only = set(args.only.split(","))

    # W6 opens 10,000 connections: take the hard limit of descriptors for
    # this process and, by inheritance, the server and the clients.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def log(text):
        print(text, file=sys.stderr, flush=True)

    throughput = [
        Throughput("W1", "W1: 1 feed × 200,000 × 100 B, batched", 1, 200_000, 100),
        Throughput("W2", "W2: 8 feeds × 50,000 × 100 B, batched", 8, 50_000, 100),
        Throughput("W3", "W3: 1 feed × 20,000 × 16 KiB, batched", 1, 20_000, 16384),
        Throughput("W4", "W4: 8 feeds × 50,000 × 100 B, one frame per write", 8, 50_000, 100, "frame"),
    ]
    sections, summary = [], {}
    for workload in throughput:
        if workload.key not in only:
            continue
        log(workload.title)
        tools = TOOLS if workload.feeds == 1 else TOOLS[:1] + [WSGATHER_THREADS, WSGATHER_NO_COALESCE] + TOOLS[1:]
        text, summary[workload.key] = run_throughput(workload, tools, args.runs, log)
        sections.append(f"### {workload.title}\n\n{text}")
    if "W5" in only:
        title = "W5: latency, 8 feeds × 5,000 msg/s for 10 s, one frame per write"
        log(title)
        text, summary["W5"] = run_latency(TOOLS[:1] + [WSGATHER_NO_COALESCE] + TOOLS[1:], min(args.runs, 3), log)
        sections.append(f"### {title}\n\nFrom the send time the server puts in each message to the moment "
                        f"`wsgather-bench-latency` reads the line from the tool's stdout; medians over the runs. "
                        f"The ceiling client writes nothing: it takes each latency as it reads the message, "
                        f"which makes it the floor.\n\n{text}")
    if "W6" in only:
        counts = [int(n) for n in args.idle.split(",") if n]
        title = f"W6: idle connections ({', '.join(f'{n:,}' for n in counts)})"
        log(title)
        text, summary["W6"] = run_idle(TOOLS, counts, log)
        sections.append(f"### {title}\n\nKiB per connection is (RSS with N − RSS with 1) / (N − 1), read once "
                        f"every connection is open.\n\n{text}")
    if "W7" in only:
        title = "W7: start-up, 1 feed × 1 message"
        log(title)
        text, summary["W7"] = run_startup(TOOLS, max(args.runs, 20), log)
        sections.append(f"### {title}\n\n{text}")

    today = datetime.date.today().isoformat()
    report = (f"# Benchmark, {today}\n\n{machine_line()}. Medians of {args.runs} runs; the tools take turns. "
              f"Server CPU is the load server's, during that tool's runs.\n\n"
              f"## Targets\n\n{targets(summary)}\n\n## Figures\n\n" + "\n\n".join(sections) + "\n")
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    if args.readme:
        update_readme(report, args.out)


def update_readme(report, path):
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        return
    body = report.split("\n", 2)[2].replace("## ", "#### ")
    where = f"From `{os.path.relpath(path, ROOT)}`, written by `scripts/bench`.\n\n" if path else ""
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{begin}\n{where}{body}{end}{tail}")


if __name__ == "__main__":
    main()
