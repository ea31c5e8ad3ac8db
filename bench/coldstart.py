"""Cold import cost of each Lambda handler vs. ``import boto3`` alone (issue 6: ``import_ratio_vs_boto3``).

    python -m bench.coldstart [--repeats N] [--profile [TOP]]

Every sample is a fresh interpreter laid out as the Lambda Python runtime lays it out: the function's
CodeUri directory first on ``sys.path``, then the layer (``layers/sync`` stands in for /opt/python),
then ``import app``. The environment is the template's Globals plus ``LAMBDA_TASK_ROOT``, so the
Powertools Tracer takes its deployed path (X-Ray SDK and ``patch_all``) rather than its local no-op.
Only the import is timed (not interpreter start-up); the median of N samples damps noise, and one
untimed warm-up run first writes the ``.pyc`` caches so the first sample is not a compile.

The dev virtualenv holds packages the deployment does not (rich, click, pygments, requests, ...), and
some libraries import them opportunistically (httpx loads its CLI when ``rich`` and ``click`` are
importable; the X-Ray SDK patches ``requests``). So by default a child refuses to import anything outside
the deployed closure: ``layers/sync/requirements.txt`` plus boto3, which the Lambda runtime ships.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_DIR = REPO_ROOT / "layers" / "sync"
LAMBDA_RUNTIME_PACKAGES = ("boto3",)  # the python3.11 runtime provides boto3 and its dependencies

# Runs in the child: refuse undeployed packages, time one import, report it with the peak RSS (KiB).
_CHILD = """\
import json, sys, time
_blocked = frozenset(filter(None, sys.argv[2].split(",")))
class _NotDeployed:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in _blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotDeployed)
started = time.perf_counter()
__import__(sys.argv[1])  # not importlib.import_module: -X importtime would not log the top module
seconds = time.perf_counter() - started
# VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec into ru_maxrss.
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({"seconds": seconds, "maxrss_kib": hwm}))
"""

# What the handlers could read at import time: the template's Globals, dummy values (nothing is
# called: boto3 clients are built lazily by crmsync.runtime on the first invocation).
_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TABLE_NAME": "bench-sync",
    "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",
    "SIGNALS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/bench-signals",
    "SECRET_PREFIX": "crmsync/",
    "STAGE": "test",
    "POWERTOOLS_SERVICE_NAME": "crmsync",
    "POWERTOOLS_METRICS_NAMESPACE": "crmsync",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
}
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class ColdStart:
    """Median cold import seconds per handler and for boto3 alone, and the worst handler's ratio."""

    boto3_seconds: float
    handler_seconds: dict[str, float]
    peak_rss_kib: dict[str, int]  # per handler: the largest peak RSS (VmHWM) seen over its samples
    worst: str
    worst_ratio: float
    repeats: int

    @property
    def ratios(self) -> dict[str, float]:
        return {name: s / self.boto3_seconds for name, s in self.handler_seconds.items()}

    @property
    def peak_rss_mb(self) -> float:
        """The largest peak RSS of any handler process right after its import (MiB)."""
        return max(self.peak_rss_kib.values()) / 1024

    def line(self) -> str:
        per_handler = " ".join(f"{n}_ms={s * 1000:.0f}" for n, s in sorted(self.handler_seconds.items()))
        return (
            f"import_ratio_vs_boto3={self.worst_ratio:.2f} worst={self.worst} "
            f"boto3_ms={self.boto3_seconds * 1000:.0f} {per_handler} "
            f"import_peak_rss_mb={self.peak_rss_mb:.0f} repeats={self.repeats}"
        )


@dataclass(frozen=True)
class ImportCost:
    """One line of ``-X importtime``: a module, its own and cumulative import time, and nesting depth."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


def handler_names() -> list[str]:
    """Every ``functions/<name>/`` with an ``app.py`` (the template's ``Handler: app.lambda_handler``)."""
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


@lru_cache(maxsize=1)
def deployed_distributions() -> frozenset[str]:
    """Distributions Lambda would have: the layer's pinned requirements and boto3, with their deps."""
    lines = (LAYER_DIR / "requirements.txt").read_text().splitlines()
    todo = [Requirement(r) for r in (line.split("#")[0].strip() for line in lines) if r]
    todo += [Requirement(name) for name in LAMBDA_RUNTIME_PACKAGES]
    seen: set[tuple[str, str]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            try:
                requires = importlib.metadata.distribution(name).requires or []
            except importlib.metadata.PackageNotFoundError:
                continue  # an optional dependency not installed here is not importable there either
            for dep in map(Requirement, requires):
                if dep.marker is None or dep.marker.evaluate({"extra": extra}):
                    todo.append(dep)
    return frozenset(name for name, _ in seen)


@lru_cache(maxsize=1)
def undeployed_modules() -> frozenset[str]:
    """Top-level modules installed here whose distributions the deployment would not include."""
    deployed = deployed_distributions()
    return frozenset(
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if not any(canonicalize_name(d) in deployed for d in dists)
    )


def _child(handler: str | None, *flags: str, layer_only: bool = True) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter importing ``app`` of ``handler`` (or ``boto3`` alone when ``None``)."""
    # A clean environment, not ours: pytest's conftest sets POWERTOOLS_TRACE_DISABLED, for instance.
    env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV} | _ENV
    blocked = ",".join(sorted(undeployed_modules())) if layer_only else ""
    path = [str(LAYER_DIR)]  # as on Lambda: no repo root, so nothing outside the layer leaks in
    if handler is None:
        module, cwd = "boto3", REPO_ROOT
    else:
        module, cwd = "app", FUNCTIONS_DIR / handler
        path.insert(0, str(cwd))
        env |= {"LAMBDA_TASK_ROOT": str(cwd), "AWS_LAMBDA_FUNCTION_NAME": handler}
    env["PYTHONPATH"] = os.pathsep.join(path)
    done = subprocess.run(
        [sys.executable, *flags, "-c", _CHILD, module, blocked],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} for {handler or 'boto3'} failed:\n{done.stderr[-2000:]}")
    return done


def _sample(handler: str | None, layer_only: bool) -> tuple[float, int]:
    result = json.loads(_child(handler, layer_only=layer_only).stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["maxrss_kib"])


def measure(repeats: int = 5, *, layer_only: bool = True) -> ColdStart:
    """Median import time of every handler and of boto3, samples interleaved so drift hits all alike.

    ``layer_only=False`` lets the children import everything in this virtualenv (not what Lambda sees).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    names = handler_names()
    if not names:
        raise RuntimeError(f"no functions/*/app.py under {FUNCTIONS_DIR}")
    for handler in [None, *names]:  # warm-up: compile .pyc once, untimed
        _sample(handler, layer_only)
    boto3: list[float] = []
    handlers: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, int] = dict.fromkeys(names, 0)
    for _ in range(repeats):
        boto3.append(_sample(None, layer_only)[0])
        for name in names:
            seconds, maxrss = _sample(name, layer_only)
            handlers[name].append(seconds)
            rss[name] = max(rss[name], maxrss)
    boto3_s = statistics.median(boto3)
    medians = {n: statistics.median(s) for n, s in handlers.items()}
    worst = max(medians, key=lambda n: medians[n])
    return ColdStart(
        boto3_seconds=boto3_s,
        handler_seconds=medians,
        peak_rss_kib=rss,
        worst=worst,
        worst_ratio=medians[worst] / boto3_s,
        repeats=repeats,
    )


def import_profile(handler: str, *, layer_only: bool = True) -> list[ImportCost]:
    """``-X importtime`` of one handler's cold import: ``app`` and every module it loaded.

    The log is post-order (children before their parent), so ``app``'s subtree is the run of deeper
    lines just before it; interpreter start-up and the timing harness's own imports are dropped.
    Depth is relative to ``app`` (0), so 1 is what ``app.py`` imports itself.
    """
    costs: list[ImportCost] = []
    for line in _child(handler, "-X", "importtime", layer_only=layer_only).stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        costs.append(ImportCost(name.strip(), int(self_us), int(cumulative_us), depth))
    end = max(i for i, c in enumerate(costs) if c.module == "app" and c.depth == 0)
    start = end
    while start > 0 and costs[start - 1].depth > 0:
        start -= 1
    return costs[start : end + 1]


def top_imports(profile: list[ImportCost], n: int = 10, *, max_depth: int = 2) -> list[ImportCost]:
    """The ``n`` costliest imports under ``app`` by cumulative time, at most ``max_depth`` deep.

    Depth 1 is what ``app.py`` imports; depth 2 is what those pull in. A module's cumulative time
    includes every dependency it was the first to import, so read it as "the cost of this import line".
    """
    costs = [c for c in profile if 0 < c.depth <= max_depth]
    return sorted(costs, key=lambda c: c.cumulative_us, reverse=True)[:n]


def package_totals(profile: list[ImportCost], n: int = 10) -> list[tuple[str, int]]:
    """Own import time (microseconds) summed per top-level package: what each package costs, whoever
    imported it first. ``crmsync``'s share is mostly pydantic building its models' schemas."""
    totals: dict[str, int] = {}
    for cost in profile:
        package = cost.module.partition(".")[0]
        totals[package] = totals.get(package, 0) + cost.self_us
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:n]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="samples per module (median is reported)")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=10,
        default=0,
        help="also list the worst handler's top imports",
    )
    parser.add_argument(
        "--all-installed", action="store_true", help="let children import dev-only packages too"
    )
    args = parser.parse_args(argv)
    layer_only = not args.all_installed
    result = measure(args.repeats, layer_only=layer_only)
    print(result.line())
    if args.profile:
        profile = import_profile(result.worst, layer_only=layer_only)
        print(f"{result.worst}: -X importtime, cumulative (depth <= 2 below app)")
        for cost in top_imports(profile, args.profile):
            print(f"  {cost.cumulative_us / 1000:8.1f} ms  {'  ' * (cost.depth - 1)}{cost.module}")
        print(f"{result.worst}: own import time per top-level package")
        for package, self_us in package_totals(profile, args.profile):
            print(f"  {self_us / 1000:8.1f} ms  {package}")


if __name__ == "__main__":
    main()
