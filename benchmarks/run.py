"""govbot's benchmarks: each goal measured as a ratio, side by side, in one run.

    python benchmarks/run.py                      # engine at 50k, live and incremental at 5k
    python benchmarks/run.py --engine-issues 200000 --live-issues 20000 --repeat 3 \
        --markdown docs/benchmark-results.md

Not part of the test suite: it takes minutes and wants a quiet machine. What
it measures (the goals come from issues 7 and 16):

engine
    ``govbot scan --snapshot FILE --format json`` against programs that only
    decode the same file, each in its own process, alternating: ``json.load``,
    and the parse floor, ``msgspec.json.decode`` (and ``orjson.loads``) of the
    file's bytes (bench-only: ``pip install -e '.[bench]'``; without them those
    rows are left out, with a note). Wall time and peak memory (``ru_maxrss``
    of that process), on the snapshot with Jira's full ``*all`` payload and on
    the lean one (``--engine-payload``). Goals (issue 16): scan <= 1.5x
    ``json.load``, <= 2.5x msgspec; < 1 GB at 200,000 issues.
live
    A full read and scan of a loopback Jira emulator (``tests/fakes/jira_server.py``,
    in its own process) against a naive loop with the ``jira`` package
    (``search_issues(jql, maxResults=False, fields="*all")``). Goals: requests
    within 3 of one per full page; bytes <= 35% of the naive loop's; wall time
    <= 1/3 of it. ``--latency S`` makes the emulator wait S seconds before every
    answer (a real site takes 0.3 to 1 s a page); the "whole process" row times
    ``govbot scan`` as a command (start-up, rules, read, scan, output) against
    the naive loop as a program of its own, alternating. Peak memory is measured
    at 200,000 issues and above; below, it is extrapolated by the cost of one
    more issue between a scan of about half the projects and the whole scan
    (from 10,000 issues: below, the answers waiting in the pool still grow).
incremental
    After 1% of the issues change, a rescan that reads only what changed (and
    its relatives), against the full scan before it, both as the service runs them:
    in this one process, the full-rescan job, then the scan-and-nudge job, each
    opening its store (cursor and issue cache) as the scheduled jobs do.
    Goals: requests <= 3%, time <= 5%.
nudge
    ``govbot nudge --apply`` over a generated workspace with 1,000+ findings,
    against the loopback fake Slack (``tests/fakes/slack_server.py``, every
    owner known by email, ``seconds_between_posts: 0``, a fresh state store),
    beside ``govbot scan`` of the same file. Counts chat.postMessage,
    conversations.open and users.lookupByEmail separately. Goal: one message
    per person; time per 1,000 findings is reported.

Workspaces come from ``benchmarks/generate.py`` (cached under ``--work``); the
live ones carry Jira's full ``*all`` payload (``--full-payload``) unless
``--lean``. Every timing is the median of ``--repeat`` runs, interleaved.
Progress goes to stderr, as a bar only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = "2026-11-16"
PAGE_CAP = {"cloud": 100, "datacenter": 1000}
GB = 1024 ** 3


# -- progress ---------------------------------------------------------------------------------------

class Progress:
    """One line on stderr: a bar on a terminal, plain lines elsewhere (CI logs stay readable)."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if self.tty:
            width = 28
            filled = width * min(self.done, self.total) // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:60]:<60}")
            self.stream.flush()
        else:
            self.stream.write(f"{self.done}/{self.total} {label}\n")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def note(message: str) -> None:
    sys.stderr.write(message + "\n")


# -- results ---------------------------------------------------------------------------------------

@dataclass
class Row:
    benchmark: str
    measure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None  # None: informational

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "**not met**", None: "-"}[self.met]
        return [self.benchmark, self.measure, self.ours, self.baseline, self.ratio, self.goal, verdict]


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, *args) -> None:
        self.rows.append(Row(*args))

    def markdown(self) -> str:
        header = ["Benchmark", "Measure", "govbot", "Baseline", "Ratio", "Goal", "Result"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines)


def machine() -> dict[str, Any]:
    memory = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(memory / GB, 1) if memory else None,
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def megabytes(value: float) -> str:
    return f"{value / 1024 ** 2:,.0f} MB"


# -- workspaces ------------------------------------------------------------------------------------

def workspace(work: Path, issues: int, flavour: str, *, full_payload: bool, seed: int = 1) -> Path:
    """A generated snapshot, cached by size, flavour, payload and seed."""
    from benchmarks.generate import write_workspace

    name = f"{flavour}-{issues}-s{seed}{'-full' if full_payload else ''}.json"
    path = work / name
    if not path.exists():
        note(f"generating {name} ...")
        partial = path.with_suffix(".partial")
        write_workspace(partial, issues, flavour, seed, full_payload=full_payload)
        partial.rename(path)
    return path


# -- measuring a child process ---------------------------------------------------------------------

def child_env(work: Path) -> dict[str, str]:
    """The environment of every measured process: none of the user's Jira, Slack or govbot settings, and
    govbot's modules byte-compiled once (into ``work``), as ``pip install`` leaves them. Without that,
    PYTHONDONTWRITEBYTECODE (set on some machines) compiles 120-odd modules in every timed run."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("JIRA_", "SLACK_", "GOVBOT_")) and name != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(work / "pycache"))
    if not (work / "pycache").is_dir():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bot")], env=env, check=True)
    return env


def run_child(argv: list[str], *, env: dict | None = None, cwd: str | None = None,
              stdout=subprocess.DEVNULL) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit status) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {process.returncode}: {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, process.returncode


# The baselines of the engine rows, each a process of its own that only decodes the file:
# the standard library, and the parse floor of the fastest decoders (bench-only extras:
# ``pip install -e '.[bench]'``; govbot does not depend on them).
PARSERS = {
    "json.load": "import json, sys\nwith open(sys.argv[1], 'rb') as handle:\n    json.load(handle)\n",
    "msgspec": "import msgspec, sys\nwith open(sys.argv[1], 'rb') as handle:\n    msgspec.json.decode(handle.read())\n",
    "orjson": "import orjson, sys\nwith open(sys.argv[1], 'rb') as handle:\n    orjson.loads(handle.read())\n",
}
BENCH_EXTRA = "pip install -e '.[bench]' (or: pip install msgspec orjson)"


# `python -m bot ...` that writes its own peak RSS (VmHWM) to $GOVBOT_BENCH_PEAK at exit. A child's
# ru_maxrss is no use after this process has read 20,000 live issues itself: Linux counts the parent's
# pages, shared until exec, in the child's maximum. VmHWM belongs to the new program alone.
PEAK_PROGRAM = ("import atexit, os, runpy, sys\n"
                "def peak():\n"
                "    with open('/proc/self/status') as status:\n"
                "        line = next(l for l in status if l.startswith('VmHWM:'))\n"
                "    with open(os.environ['GOVBOT_BENCH_PEAK'], 'w') as out:\n"
                "        out.write(str(int(line.split()[1]) * 1024))\n"
                "atexit.register(peak)\n"
                "sys.argv = ['govbot', *sys.argv[1:]]\n"
                "runpy.run_module('bot', run_name='__main__', alter_sys=True)\n")


def run_with_peak(args: list[str], *, env: dict, cwd: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes of the program itself) of ``python -m bot ARGS``."""
    handle, peak_file = tempfile.mkstemp(prefix="govbot-peak-")
    os.close(handle)
    try:
        elapsed, _, _ = run_child([sys.executable, "-c", PEAK_PROGRAM, *args],
                                  env={**env, "GOVBOT_BENCH_PEAK": peak_file}, cwd=cwd)
        return elapsed, int(Path(peak_file).read_text() or 0)
    finally:
        os.unlink(peak_file)


def available_parsers() -> list[str]:
    """The baselines this interpreter can run; says how to install the missing ones."""
    import importlib.util

    found = ["json.load"]
    missing = []
    for name in ("msgspec", "orjson"):
        (found if importlib.util.find_spec(name) is not None else missing).append(name)
    if missing:
        note(f"engine: {' and '.join(missing)} not installed, so the parse floor is not measured; "
             f"for it: {BENCH_EXTRA}")
    return found


def bench_engine(results: Results, work: Path, issues: int, flavour: str, repeat: int, progress: Progress,
                 *, full_payload: bool = False, parsers: list[str] | None = None) -> None:
    """``govbot scan`` against each parser's process, alternating, on one snapshot."""
    parsers = parsers or ["json.load"]
    path = workspace(work, issues, flavour, full_payload=full_payload)
    env = child_env(work)
    cwd = tempfile.mkdtemp(prefix="govbot-bench-")  # no govbot.yaml here
    scan_argv = [sys.executable, "-m", "bot", "scan", "--snapshot", str(path), "--format", "json",
                 "--now", NOW, "--fail-on", "never"]
    parsed: dict[str, list] = {name: [] for name in parsers}
    scan = []
    payload = "full *all payload" if full_payload else "lean"
    for attempt in range(repeat):
        # Rotate who goes first, so no side always runs right after the same neighbour.
        order = ["govbot", *parsers]
        order = order[attempt % len(order):] + order[:attempt % len(order)]
        for name in order:
            if name == "govbot":
                scan.append(run_child(scan_argv, env=env, cwd=cwd))
            else:
                parsed[name].append(run_child([sys.executable, "-c", PARSERS[name], str(path)], env=env, cwd=cwd))
            progress.step(f"engine: {name} {flavour} {payload} {issues:,} ({attempt + 1}/{repeat})")
    scan_time = statistics.median(t for t, _, _ in scan)
    scan_rss = max(m for _, m, _ in scan)
    parse_time = {name: statistics.median(t for t, _, _ in runs) for name, runs in parsed.items()}
    parse_rss = {name: max(m for _, m, _ in runs) for name, runs in parsed.items()}
    size = path.stat().st_size
    label = f"engine, {issues:,} {flavour} issues, {payload} ({size / 1e6:,.0f} MB snapshot)"
    baseline = parse_time["json.load"]
    results.add(label, "wall time", seconds(scan_time), f"{seconds(baseline)} (json.load only)",
                f"{scan_time / baseline:.2f}x", "<= 1.5x", scan_time <= 1.5 * baseline)
    if "msgspec" in parse_time:
        floor = parse_time["msgspec"]
        results.add(label, "wall time vs the parse floor", seconds(scan_time), f"{seconds(floor)} (msgspec decode only)",
                    f"{scan_time / floor:.2f}x", "<= 2.5x", scan_time <= 2.5 * floor)
    if "orjson" in parse_time:
        results.add(label, "wall time vs orjson", seconds(scan_time), f"{seconds(parse_time['orjson'])} (orjson only)",
                    f"{scan_time / parse_time['orjson']:.2f}x", "-", None)
    if issues >= 200_000:
        results.add(label, "peak memory", megabytes(scan_rss), f"{megabytes(parse_rss['json.load'])} (json.load only)",
                    f"{scan_rss / parse_rss['json.load']:.2f}x", "< 1 GB at 200k", scan_rss < GB)
    else:
        # Below 200k, extrapolate: the fixed cost (interpreter, rules) from a 1,000-issue
        # scan, plus the per-issue cost measured here, times 200,000.
        small = workspace(work, 1000, flavour, full_payload=full_payload)
        _, base_rss, _ = run_child([sys.executable, "-m", "bot", "scan", "--snapshot", str(small), "--format",
                                    "json", "--now", NOW, "--fail-on", "never"], env=env, cwd=cwd)
        projected = base_rss + (scan_rss - base_rss) * 200_000 / issues
        results.add(label, "peak memory", f"{megabytes(scan_rss)} (200k: ~{megabytes(projected)}, extrapolated)",
                    f"{megabytes(parse_rss['json.load'])} (json.load only)",
                    f"{scan_rss / parse_rss['json.load']:.2f}x", "< 1 GB at 200k", projected < GB)
    results.details[f"engine-{flavour}-{issues}{'-full' if full_payload else ''}"] = {
        "snapshot_bytes": size, "scan_seconds": [t for t, _, _ in scan], "scan_peak_rss": scan_rss,
        **{f"{name}_seconds": [t for t, _, _ in runs] for name, runs in parsed.items()},
        **{f"{name}_peak_rss": rss for name, rss in parse_rss.items()}}


# -- the emulator in its own process ---------------------------------------------------------------

class Emulator:
    def __init__(self, snapshot: Path, flavour: str, latency: float = 0.0):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fakes" / "jira_server.py"), "--snapshot", str(snapshot),
             "--flavour", flavour, "--lifetime", "3600", "--latency", str(latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the Jira emulator did not start")
        self.url = json.loads(line)["url"]

    def call(self, action: str, body: dict | None = None) -> dict:
        import requests

        method = "GET" if action == "stats" else "POST"
        response = requests.request(method, f"{self.url}/__emulator/{action}", json=body, timeout=600)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        try:
            self.call("stop")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.process.kill()


def _config(url: str, projects: list[str], directory: str, *, deployment: str = "auto"):
    import yaml

    from bot.config import load_config

    path = Path(directory) / "govbot.yaml"
    path.write_text(yaml.safe_dump({"jira": {"url": url, "projects": projects, "deployment": deployment}}))
    return load_config(path, env={"JIRA_EMAIL": "bench@example.com", "JIRA_API_TOKEN": "bench-token",
                                  "JIRA_URL": url})


def govbot_read_and_scan(config, ruleset, *, cursor_store=None, full: bool = True):
    """What a govbot run does against live Jira once its rules are loaded: read, then scan."""
    from bot.engine.evaluate import evaluate
    from bot.runs.owners import complete_owners
    from bot.sources.jira import JiraSource

    # As open_batch does: the owner fields are read after the rules, for the issues with findings only.
    workspace = JiraSource(config).load(ruleset, full=full, cursor_store=cursor_store, defer_owners=True)
    result = evaluate(workspace, ruleset.active, config, datetime.now(timezone.utc))
    complete_owners(workspace, result, config)
    return workspace, result


def service_jobs(url: str, projects: list[str], directory: Path):
    """The service's jobs over the emulator, with a store of their own (nothing is sent: no Slack
    nudges, no Jira comments), and the workspaces their reads return (to check the rescan)."""
    import yaml

    from bot.config import load_config
    from bot.engine import load_rules
    from bot.runs.inputs import Inputs
    from bot.service.jobs import Jobs
    from bot.sources.jira import JiraSource

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "govbot.yaml"
    path.write_text(yaml.safe_dump({"jira": {"url": url, "projects": projects}, "store": {"url": "state.db"},
                                    "nudges": {"enabled": False}, "comments": {"enabled": False}}))
    config = load_config(path, env={"JIRA_EMAIL": "bench@example.com", "JIRA_API_TOKEN": "bench-token",
                                    "JIRA_URL": url})
    # A long-lived service imported what its jobs run at their first run: so does this process.
    import importlib

    for module in ("bot.runs.nudge", "bot.runs.rescan"):
        importlib.import_module(module)

    seen: list = []
    if not getattr(JiraSource.load, "benchmark_watch", False):
        load = JiraSource.load

        def watched(self, *args, **kwargs):
            workspace = load(self, *args, **kwargs)
            JiraSource.load.seen.append(workspace)
            return workspace

        watched.benchmark_watch = True
        JiraSource.load = watched
    JiraSource.load.seen = seen
    return Jobs(Inputs(config, load_rules(None, config))), seen


def run_job(jobs, name: str) -> dict:
    from bot.service.jobs import JobRun

    counts = jobs.run(name, JobRun(name, datetime.now(timezone.utc), apply=True))
    if counts.get("incomplete") or counts.get("recorded") == "not recorded (incomplete scan)":
        raise RuntimeError(f"the {name} job did not complete: {counts}")
    return counts


def naive_jira_loop(url: str, jql: str, deployment: str) -> int:
    """The naive client: the jira package, every field, every page."""
    from jira import JIRA

    client = JIRA(server=url, basic_auth=("bench@example.com", "bench-token"))
    issues = client.search_issues(jql, maxResults=False, fields="*all")
    return len(issues)


NAIVE_PROGRAM = ("import sys\nfrom jira import JIRA\n"
                 "client = JIRA(server=sys.argv[1], basic_auth=('bench@example.com', 'bench-token'))\n"
                 "print(len(client.search_issues(sys.argv[2], maxResults=False, fields='*all')))\n")


def bench_live(results: Results, work: Path, issues: int, flavour: str, repeat: int, full_payload: bool,
               progress: Progress, latency: float = 0.0) -> None:
    import logging

    import jira  # noqa: F401 - imported before timing, as both sides use it
    from bot.engine import load_rules

    logging.getLogger("govbot").setLevel(logging.ERROR)
    path = workspace(work, issues, flavour, full_payload=full_payload)
    emulator = Emulator(path, flavour, latency)
    directory = tempfile.mkdtemp(prefix="govbot-bench-")
    try:
        keys = [page_issue["key"] for page_issue in _keys(path)]
        projects = sorted({key.rsplit("-", 1)[0] for key in keys})
        config = _config(emulator.url, projects, directory)
        ruleset = load_rules(None, config)  # loaded once, as a service does; not timed
        jql = f"project in ({', '.join(projects)})"
        ours, naive, full_reads, incremental, whole_ours, whole_naive = [], [], [], [], [], []
        whole_peaks: list[int] = []
        for attempt in range(repeat):
            emulator.call("reset")
            started = time.perf_counter()
            workspace_read, _ = govbot_read_and_scan(config, ruleset)
            elapsed = time.perf_counter() - started
            stats = emulator.call("stats")
            if not workspace_read.complete or len(workspace_read.issues) != issues:
                raise RuntimeError(f"govbot read {len(workspace_read.issues)} of {issues} issues: "
                                   f"{workspace_read.problems[:3]}")
            ours.append((elapsed, stats))
            progress.step(f"live: govbot scan {issues:,} ({attempt + 1}/{repeat})")
            emulator.call("reset")
            started = time.perf_counter()
            count = naive_jira_loop(emulator.url, jql, flavour)
            elapsed = time.perf_counter() - started
            stats = emulator.call("stats")
            if count != issues:
                raise RuntimeError(f"the naive loop read {count} of {issues} issues")
            naive.append((elapsed, stats))
            progress.step(f"live: naive jira *all loop ({attempt + 1}/{repeat})")
        # Whole processes, alternating: `govbot scan` as a user runs it, the naive loop as its own program.
        env = {**child_env(work), "JIRA_EMAIL": "bench@example.com", "JIRA_API_TOKEN": "bench-token"}
        for attempt in range(repeat):
            emulator.call("reset")
            whole_time, whole_rss = run_with_peak(["scan", "--format", "json", "--now", NOW, "--fail-on", "never"],
                                                  env=env, cwd=directory)
            whole_ours.append(whole_time)
            whole_peaks.append(whole_rss)
            emulator.call("reset")
            whole_naive.append(run_child([sys.executable, "-c", NAIVE_PROGRAM, emulator.url, jql], env=env,
                                         cwd=directory)[0])
            progress.step(f"live: whole processes ({attempt + 1}/{repeat})")
        # The same scan of about half the projects: the two peaks' difference over the two sizes is
        # the cost of one more issue, without the fixed cost (interpreter, rules, the answers waiting
        # in the pool; that one grows until the pool is full, so both scans must fill it).
        part_projects, part_issues = half_of(keys)
        if part_issues >= FULL_POOL_ISSUES:
            emulator.call("reset")
            _, part_rss = run_with_peak(["scan", "--format", "json", "--now", NOW, "--fail-on", "never",
                                         "--jql", f"project in ({', '.join(part_projects)})"], env=env, cwd=directory)
        else:
            part_rss = None
        # Incremental, as the service runs it: in this one process, the nightly full-rescan job
        # (full read, record, cursor and issue cache saved) and then, after 1% of issues are
        # edited, the scan-and-nudge job's rescan (incremental read, record, deliver), each
        # opening the store as the scheduled jobs do.
        for attempt in range(repeat):
            jobs, seen = service_jobs(emulator.url, projects, Path(directory) / f"service-{attempt}")
            emulator.call("reset")
            started = time.perf_counter()
            run_job(jobs, "full-rescan")
            full_time = time.perf_counter() - started
            full_reads.append((full_time, emulator.call("stats")))
            if len(seen[-1].issues) != issues:
                raise RuntimeError(f"the full rescan read {len(seen[-1].issues)} of {issues} issues")
            touched = emulator.call("touch", {"fraction": 0.01, "seed": attempt + 1,
                                              "when": datetime.now(timezone.utc).isoformat()})["touched"]
            emulator.call("reset")
            started = time.perf_counter()
            run_job(jobs, "scan-and-nudge")
            elapsed = time.perf_counter() - started
            stats = emulator.call("stats")
            changed = seen[-1]
            missing = set(touched) - set(changed.issues)
            if missing or not changed.partial:
                raise RuntimeError(f"the rescan missed {len(missing)} edited issues (partial: {changed.partial})")
            incremental.append((elapsed, stats, len(changed.issues), len(touched)))
            jobs.close()
            # Put the edits back in the past, or the next round's overlap window would read them again.
            emulator.call("touch", {"keys": touched, "when": "2026-01-01T00:00:00+00:00"})
            progress.step(f"incremental: 1% edited, service jobs ({attempt + 1}/{repeat})")
    finally:
        emulator.stop()
    payload = "full *all payload" if full_payload else "lean payload"
    delay = f", {latency * 1000:.0f} ms per request" if latency else ""
    label = f"live, {issues:,} {flavour} issues ({payload}{delay})"
    ours_time = statistics.median(t for t, _ in ours)
    naive_time = statistics.median(t for t, _ in naive)
    ours_stats, naive_stats = _median_stats(ours), _median_stats(naive)
    pages = math.ceil(issues / PAGE_CAP[flavour])
    results.add(label, "requests", f"{ours_stats['requests']:,}", f"{pages:,} full pages",
                f"{ours_stats['requests'] - pages:+d}", "<= +3", ours_stats["requests"] - pages <= 3)
    results.add(label, "bytes read", megabytes(ours_stats["bytes_sent"]),
                f"{megabytes(naive_stats['bytes_sent'])} (naive *all)",
                f"{ours_stats['bytes_sent'] / naive_stats['bytes_sent']:.0%}", "<= 35%",
                ours_stats["bytes_sent"] <= 0.35 * naive_stats["bytes_sent"])
    results.add(label, "wall time (read + scan)", seconds(ours_time), f"{seconds(naive_time)} (naive *all, read only)",
                f"{ours_time / naive_time:.2f}", "<= 0.33", ours_time <= naive_time / 3)
    whole_ours_time, whole_naive_time = statistics.median(whole_ours), statistics.median(whole_naive)
    results.add(label, "whole process (`govbot scan` vs naive program)", seconds(whole_ours_time),
                f"{seconds(whole_naive_time)} (naive *all, read only)", f"{whole_ours_time / whole_naive_time:.2f}",
                "<= 0.33", whole_ours_time <= whole_naive_time / 3)
    # Peak memory of `govbot scan` against live Jira: measured from 200,000 issues, else extrapolated by
    # the cost of one more issue between the half-the-projects scan and the whole one. (Scaling everything
    # above a small snapshot scan, as before, also scaled the fixed cost of the answers waiting in the pool.)
    live_rss = max(whole_peaks)
    if issues >= 200_000:
        results.add(label, "peak memory (`govbot scan`)", megabytes(live_rss), "-", "", "< 1 GB at 200k",
                    live_rss < GB)
    elif part_rss is None:
        results.add(label, "peak memory (`govbot scan`)", f"{megabytes(live_rss)} (200k: not extrapolated below "
                    f"{2 * FULL_POOL_ISSUES:,} issues)", "-", "", "< 1 GB at 200k", None)
    else:
        per_issue = max(0, live_rss - part_rss) / max(1, issues - part_issues)
        projected = live_rss + per_issue * (200_000 - issues)
        results.add(label, "peak memory (`govbot scan`)", f"{megabytes(live_rss)} ({megabytes(part_rss)} for "
                    f"{part_issues:,}; 200k: ~{megabytes(projected)}, extrapolated)", "-", "", "< 1 GB at 200k",
                    projected < GB)
    full_time = statistics.median(t for t, _ in full_reads)
    incremental_time = statistics.median(t for t, *_ in incremental)
    full_requests = _median_stats(full_reads)["requests"]
    incremental_requests = _median_stats([(t, s) for t, s, *_ in incremental])["requests"]
    changed_label = f"incremental, 1% of {issues:,} {flavour} issues edited{delay}, in the service"
    results.add(changed_label, "requests (scan-and-nudge job)", f"{incremental_requests:,}",
                f"{full_requests:,} (full-rescan job)", f"{incremental_requests / full_requests:.1%}", "<= 3%",
                incremental_requests <= 0.03 * full_requests)
    results.add(changed_label, "wall time (job: read, scan, record)", seconds(incremental_time),
                f"{seconds(full_time)} (full-rescan job)", f"{incremental_time / full_time:.1%}", "<= 5%",
                incremental_time <= 0.05 * full_time)
    results.details[f"live-{flavour}-{issues}-{'full' if full_payload else 'lean'}"] = {
        "latency": latency, "whole_process": {"govbot_scan": whole_ours, "naive": whole_naive},
        "whole_process_peak_rss": whole_peaks,
        "part_scan": {"projects": part_projects, "issues": part_issues, "peak_rss": part_rss},
        "ours": [{"seconds": t, **s} for t, s in ours], "naive": [{"seconds": t, **s} for t, s in naive],
        "full_reads": [{"seconds": t, **s} for t, s in full_reads],
        "incremental": [{"seconds": t, "issues_read": n, "edited": e, **s} for t, s, n, e in incremental]}


# Below this many issues a live read does not keep the pool full (4 requests of 1,000 issues, and
# the first page): its fixed cost still grows with the scan.
FULL_POOL_ISSUES = 5_000


def half_of(keys: list[str]) -> tuple[list[str], int]:
    """Projects holding about half of ``keys`` (largest first), and how many issues they hold."""
    sizes = collections.Counter(key.rsplit("-", 1)[0] for key in keys)
    chosen, count = [], 0
    for project, size in sizes.most_common():
        if count >= len(keys) / 2:
            break
        chosen.append(project)
        count += size
    return sorted(chosen), count


def _median_stats(runs: list[tuple[float, dict]]) -> dict:
    """The emulator's counters of the run with the median number of bytes."""
    ordered = sorted((stats for _, stats in runs), key=lambda stats: (stats["bytes_sent"], stats["requests"]))
    return ordered[len(ordered) // 2]


def _keys(path: Path):
    """The issues of a generated snapshot (only their keys are used)."""
    from bot.sources.snapshot import stream

    for kind, value in stream(path):
        if kind == "issue" and isinstance(value, dict):
            yield value


# -- nudge ------------------------------------------------------------------------------------------

NUDGE_CONFIG = """\
teams:
{teams}
slack:
  seconds_between_posts: 0
  max_retries: 1
nudges:
  breaker: {{max_people: 1000000, max_findings: 1000000}}
store:
  url: state.db
  audit_file: audit.jsonl
"""


def bench_nudge(results: Results, work: Path, issues: int, flavour: str, repeat: int, progress: Progress) -> None:
    """One nudge run over a fresh store against the fake Slack, beside a scan of the same snapshot."""
    from collections import Counter

    from tests.fakes.slack_server import FakeSlack

    path = workspace(work, issues, flavour, full_payload=False)
    env = child_env(work)
    scan_dir = tempfile.mkdtemp(prefix="govbot-bench-")
    out = Path(scan_dir) / "scan.json"
    with open(out, "wb") as handle:
        run_child([sys.executable, "-m", "bot", "scan", "--snapshot", str(path), "--format", "json", "--now", NOW,
                   "--fail-on", "never"], env=env, cwd=scan_dir, stdout=handle)
    scanned = json.loads(out.read_text(encoding="utf-8"))
    emails = sorted({(f.get("owner") or {}).get("email") for f in scanned["findings"]} - {None})
    users = {email: f"U{index:06d}" for index, email in enumerate(emails, 1)}
    projects = sorted({f["issue"].split("-")[0] for f in scanned["findings"]})
    teams = "\n".join(f'  {p.lower()}: {{projects: [{p}], channel: "#team-{p.lower()}", timezone: UTC}}'
                      for p in projects)
    scans, nudges = [], []
    counts: Counter = Counter()
    people = findings = posts_dm = 0
    for _ in range(repeat):
        scans.append(run_child([sys.executable, "-m", "bot", "scan", "--snapshot", str(path), "--format", "json",
                                "--now", NOW, "--fail-on", "never"], env=env, cwd=scan_dir)[0])
        progress.step(f"nudge: govbot scan {issues:,}")
        directory = Path(tempfile.mkdtemp(prefix="govbot-bench-nudge-"))
        (directory / "govbot.yaml").write_text(NUDGE_CONFIG.format(teams=teams), encoding="utf-8")
        with FakeSlack(token="xoxb-bench", users=users) as fake:
            report = directory / "report.json"
            with open(report, "wb") as handle:
                elapsed, _, status = run_child(
                    [sys.executable, "-m", "bot", "nudge", "--apply", "--snapshot", str(path), "--now", NOW,
                     "--config", "govbot.yaml", "--no-comments", "--format", "json"],
                    env={**env, "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-bench"},
                    cwd=str(directory), stdout=handle)
            if status != 0:
                raise RuntimeError(f"govbot nudge exited {status}")
            nudges.append(elapsed)
            counts = Counter(call.method for call in fake.calls)
            dms = [p for p in fake.posts() if fake.dm_user(p["channel"])]
            people = len({fake.dm_user(p["channel"]) for p in dms})
            posts_dm = len(dms)
            data = json.loads(report.read_text(encoding="utf-8"))
            findings = len({fp for message in data["messages"] for fp in message["findings"]})
            channel_posts = len(fake.posts()) - posts_dm
        shutil.rmtree(directory, ignore_errors=True)
        progress.step(f"nudge: govbot nudge --apply {issues:,}")
    shutil.rmtree(scan_dir, ignore_errors=True)
    scan_time, nudge_time = statistics.median(scans), statistics.median(nudges)
    label = (f"nudge, {findings:,} findings in messages ({len(scanned['findings']):,} in all; {issues:,} "
             f"{flavour} issues, {people} people)")
    per_person = posts_dm / max(people, 1)
    results.add(label, "DMs per person", f"{posts_dm} DMs", f"{people} people", f"{per_person:.2f}", "1",
                posts_dm == people)
    lookups, opens = counts["users.lookupByEmail"], counts["conversations.open"]
    results.add(label, "Slack calls (postMessage / conversations.open / lookupByEmail)",
                f"{counts['chat.postMessage']} / {opens} / {lookups}", f"{people} people",
                f"{counts['chat.postMessage'] / max(people, 1):.2f} / {opens / max(people, 1):.2f} / "
                f"{lookups / max(people, 1):.2f} per person", "-", None)
    results.add(label, "wall time per 1,000 findings", seconds(nudge_time * 1000 / max(findings, 1)),
                f"{seconds(scan_time * 1000 / max(findings, 1))} (`govbot scan` only)",
                f"{nudge_time / scan_time:.2f}x", "-", None)
    results.details["nudge"] = {"issues": issues, "findings": findings, "people": people, "dm_posts": posts_dm,
                                "channel_posts": channel_posts, "calls": dict(counts), "scan_s": scans,
                                "nudge_s": nudges, "owners_with_email": len(users),
                                "scanned_findings": len(scanned["findings"])}


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description="govbot's benchmarks (issue 7).")
    parser.add_argument("--engine-issues", type=int, default=50_000, metavar="N")
    parser.add_argument("--live-issues", type=int, default=5_000, metavar="N")
    parser.add_argument("--flavour", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--only", default="engine,live,nudge",
                        help="engine, live (live includes incremental), nudge")
    parser.add_argument("--nudge-issues", type=int, default=20_000, metavar="N",
                        help="nudge: workspace size (20,000 issues give about 1,100 findings in messages)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine-payload", choices=("lean", "full", "both"), default="both",
                        help="engine: the generator's lean pages, Jira's full *all payload (--full-payload), "
                             "or both (default)")
    parser.add_argument("--lean", action="store_true", help="live: serve the generator's pages as they are, "
                                                              "without the rest of Jira's *all payload")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="live: the emulator waits this long before every answer (a real Jira: 0.3 to 1)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "govbot-bench"),
                        help="where generated workspaces are cached (default %(default)s)")
    parser.add_argument("--json", dest="json_out", metavar="FILE", help="also write every measurement as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table (and the machine) as Markdown")
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    payloads = {"lean": [False], "full": [True], "both": [True, False]}[args.engine_payload]
    parsers = available_parsers() if "engine" in only else []
    steps = ((1 + len(parsers)) * args.repeat * len(payloads) if "engine" in only else 0) + (4 * args.repeat if "live" in only else 0) + (
        2 * args.repeat if "nudge" in only else 0)
    progress = Progress(steps)
    results = Results()
    results.details["machine"] = machine()
    results.details["started"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if "engine" in only:
        for full_payload in payloads:
            bench_engine(results, work, args.engine_issues, args.flavour, args.repeat, progress,
                         full_payload=full_payload, parsers=parsers)
    if "live" in only:
        bench_live(results, work, args.live_issues, args.flavour, args.repeat, not args.lean, progress,
                   args.latency)
    if "nudge" in only:
        bench_nudge(results, work, args.nudge_issues, args.flavour, args.repeat, progress)
    progress.close()
    info = results.details["machine"]
    header = (f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}, "
              f"{info['os']}; medians of {args.repeat} runs.")
    table = results.markdown()
    print(header + "\n\n" + table)
    if args.markdown:
        Path(args.markdown).write_text(header + "\n\n" + table + "\n", encoding="utf-8")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": [row.__dict__ for row in results.rows],
                                                   **results.details}, indent=1, default=str), encoding="utf-8")
    return 0 if all(row.met is not False for row in results.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
