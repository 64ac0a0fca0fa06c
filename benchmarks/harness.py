"""What every suite shares: sizes, rows, the runner of measurements and the servers.

A suite is a function ``(r: Runner) -> Suite | list[Suite]`` (see README.md,
"Adding a suite"); ``Runner.work`` runs one measurement in a fresh process
(``python -m benchmarks.workers``) and returns its JSON result.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks import firehose as fh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

__all__ = [
    "FULL",
    "QUICK",
    "ROOT",
    "Row",
    "Runner",
    "Sizes",
    "Suite",
    "firehose",
    "fmt",
    "has",
    "med",
    "ratios",
    "rest_server",
    "x",
]


@dataclass(frozen=True)
class Sizes:
    quick: bool = False
    stream_n: int = 1_000_000
    stream_reps: int = 5
    fan: tuple[tuple[int, int], ...] = ((1, 1_000_000), (10, 200_000), (100, 40_000))
    fan_reps: int = 3
    lat_rate: int = 20_000
    lat_secs: float = 10.0
    lat_reps: int = 3
    lat_warmup: int = 2_000
    slow_n: int = 1_000_000
    slow_k: int = 4
    slow_reps: int = 3
    decode_frames: int = 10_000
    decode_repeat: int = 10
    decode_reps: int = 5
    rest_total: int = 2_000
    rest_in_flight: int = 100
    rest_reps: int = 5
    selfcheck_n: int = 1_000_000
    selfcheck_reps: int = 3
    collect_n: int = 1_000_000
    collect_big: int = 5_000_000
    collect_reps: int = 3
    timeout: float = 240.0


FULL = Sizes()
QUICK = Sizes(
    quick=True,
    stream_n=40_000,
    stream_reps=1,
    fan=((1, 40_000), (10, 10_000), (100, 1_000)),
    fan_reps=1,
    lat_secs=1.0,
    lat_reps=1,
    lat_warmup=1_000,
    slow_n=60_000,
    slow_reps=1,
    decode_frames=1_000,
    decode_repeat=2,
    decode_reps=1,
    rest_total=300,
    rest_reps=1,
    selfcheck_n=200_000,
    selfcheck_reps=1,
    collect_n=40_000,
    collect_big=100_000,
    collect_reps=1,
    timeout=60.0,
)


# ------------------------------------------------------------------ results


@dataclass
class Row:
    what: str
    median: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Suite:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.title.split(".", 1)[0]


def med(values: list[float | None] | list[float]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratios(a: list[float | None], b: list[float | None]) -> list[float | None]:
    """``a[i] / b[i]`` for the runs of one round where both ran."""
    return [x / y for x, y in zip(a, b, strict=False) if x is not None and y]


def fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}".strip()


def x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


# ------------------------------------------------------------------- runner


class Runner:
    """Runs workers in fresh processes; remembers failures.

    ``firehose`` is the running firehose while a suite that asked for it runs.
    """

    def __init__(self, sizes: Sizes, verbose: bool = True) -> None:
        self.sizes = sizes
        self.quick = sizes.quick
        self.verbose = verbose
        self.failures: list[str] = []
        self.raw: dict[str, list[Any]] = collections.defaultdict(list)
        self.env = child_env()
        self._firehose: fh.Firehose | None = None

    @property
    def firehose(self) -> fh.Firehose:
        if self._firehose is None:
            raise RuntimeError("this suite did not ask for the firehose (Entry(firehose=True))")
        return self._firehose

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def command(self, spec: dict[str, Any]) -> list[str]:
        return [sys.executable, "-m", "benchmarks.workers", json.dumps(spec)]

    def work(self, key: str, fn: str, **spec: Any) -> dict[str, Any] | None:
        """One measurement in a fresh process: ``fn`` (``"module:function"`` or a
        worker of benchmarks/workers/) awaited with ``spec``; ``None`` if it failed."""
        spec = {"fn": fn, "timeout": self.sizes.timeout, **spec}
        try:
            proc = subprocess.run(
                self.command(spec),
                capture_output=True,
                text=True,
                timeout=self.sizes.timeout + 30,
                cwd=ROOT,
                env=self.env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{key}: timed out")
            self.log(f"  {key}: TIMED OUT")
            return None
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            self.failures.append(f"{key}: {tail}")
            self.log(f"  {key}: FAILED: {tail}")
            return None
        result: dict[str, Any] = json.loads(lines[-1])
        self.raw[key].append(result)
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        self.log(f"  {key}: {shown}")
        return result

    @contextlib.contextmanager
    def serving(self, server: fh.Firehose | None) -> Iterator[None]:
        previous, self._firehose = self._firehose, server
        try:
            yield
        finally:
            self._firehose = previous


# ------------------------------------------------------------------ servers


@contextlib.contextmanager
def firehose(sizes: Sizes) -> Iterator[fh.Firehose]:
    """The firehose in a child process, the streams of suites 0-5 and 8 built first."""
    biggest = max([sizes.stream_n] + [n for _, n in sizes.fan])
    prepare = [
        f"ours:1:{biggest}",
        f"ours:{sizes.slow_k}:{sizes.slow_n}",
        f"vendor:1:{sizes.stream_n}",  # the vendor SDK's and the terminal dialect's
    ]
    server = fh.start_subprocess(prepare, timeout=300)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def rest_server() -> Iterator[tuple[str, str]]:
    """The simulator with rate limiting off (restserver.py): (base URL, account id)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.restserver"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env(),
    )
    try:
        found: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while len(found) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            name, _, value = line.strip().partition("=")
            found[name] = value
        if len(found) < 2:
            raise RuntimeError("the REST simulator did not start")
        yield found["BASE_URL"], found["ACCOUNT"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def transport_ready() -> bool:
    """Whether the library has ``StreamPolicy(transport=...)`` (issue 13) and picows is there."""
    from fxsocket_async import StreamPolicy

    fields = getattr(StreamPolicy, "__dataclass_fields__", {})
    return "transport" in fields and has("picows")
