"""Run every benchmark scenario on tether, trio, asyncio and uvloop and print a table.

Each (scenario, implementation, repetition) runs in a fresh subprocess (``child.py``);
implementations are interleaved within each repetition, and their order rotates from
one repetition to the next, so that machine noise hits all of them alike. Each cell of
the table is the median over the repetitions.

    python bench/run.py                      # everything, 5 repetitions
    python bench/run.py --quick              # 1 repetition, smaller sizes: a smoke test
    python bench/run.py --filter chan --impls tether,trio --reps 3
    python bench/run.py --markdown BENCHMARKS.md   # also update the table there
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from registry import (
    BASELINE,
    IMPLEMENTATIONS,
    SCENARIOS,
    SCENARIOS_BY_NAME,
    SUBJECT,
    TIMES,
    TRIO_API_IMPLEMENTATIONS,
    Scenario,
    guest_to_plain_ratios,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CHILD = BENCH_DIR / "child.py"
RESULTS_DIR = BENCH_DIR / "results"
MARK_START = "<!-- bench-table:start -->"
MARK_END = "<!-- bench-table:end -->"
QUICK_SCALE = 0.25
GUEST_CAPTION = (
    f"Guest mode: each implementation's guest-mode median over its plain one "
    f"(1.00 = guest mode costs nothing); Met: {SUBJECT}'s ratio is at least {BASELINE}'s."
)


@dataclass
class Cell:
    """All repetitions of one (scenario, implementation)."""

    values: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def spread(self) -> float | None:
        """(max - min) / median over the repetitions, as a fraction."""
        median = self.median
        if median is None or len(self.values) < 2 or median == 0:
            return None
        return (max(self.values) - min(self.values)) / median

    def status(self) -> str:
        """'ok', or the failure status ('n/a', 'error', 'timeout') when nothing succeeded."""
        if self.values:
            return "ok"
        return self.failures[0]["status"] if self.failures else "missing"


# --------------------------------------------------------------------------- running


def run_child(
    scenario: Scenario, impl: str, size: int, warmup_size: int, timeout: float
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(CHILD),
        scenario.name,
        impl,
        f"--size={size}",
        f"--warmup-size={warmup_size}",
    ]
    base = {"scenario": scenario.name, "impl": impl, "size": size}
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
        )
    except subprocess.TimeoutExpired:
        return {**base, "status": "timeout", "reason": f"no result after {timeout:g} s"}
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return dict(json.loads(line))
            except json.JSONDecodeError:
                break
    stderr_tail = completed.stderr.strip().splitlines()[-1:] or ["(no output)"]
    return {
        **base,
        "status": "error",
        "reason": f"child exited with {completed.returncode}: {stderr_tail[0]}",
        "traceback": completed.stderr,
    }


def run_all(
    scenarios: list[Scenario], impls: list[str], args: argparse.Namespace
) -> tuple[dict[tuple[str, str], Cell], list[dict[str, Any]]]:
    cells = {(s.name, impl): Cell() for s in scenarios for impl in impls}
    raw: list[dict[str, Any]] = []
    width = max(len(s.name) for s in scenarios)
    for rep in range(args.reps):
        shift = rep % len(impls)
        order = impls[shift:] + impls[:shift]  # rotate so no implementation always goes first
        for scenario in scenarios:
            size = scenario.scaled_size(args.scale)
            warmup_size = scenario.scaled_warmup_size(size)
            progress = []
            for impl in order:
                result = run_child(scenario, impl, size, warmup_size, args.timeout)
                result["rep"] = rep
                raw.append(result)
                cell = cells[(scenario.name, impl)]
                if result["status"] == "ok":
                    cell.values.append(result["value"])
                    cell.seconds.append(result["seconds"])
                    progress.append(f"{impl} {format_value(result['value'], scenario.unit)}")
                else:
                    cell.failures.append(result)
                    progress.append(f"{impl} {result['status']}")
            print(
                f"rep {rep + 1}/{args.reps}  {scenario.name:<{width}}  " + "  ".join(progress),
                file=sys.stderr,
                flush=True,
            )
    return cells, raw


# --------------------------------------------------------------------------- formatting


def format_value(value: float, unit: str) -> str:
    if unit.startswith("B/"):
        return f"{value:,.0f}"
    for threshold, suffix in ((1e6, " M"), (1e3, " k")):
        if value >= threshold:
            scaled = value / threshold
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f}{suffix}"
    return f"{value:.3g}"


def format_cell(cell: Cell, unit: str, show_spread: bool) -> str:
    median = cell.median
    if median is None:
        return cell.status()
    text = format_value(median, unit)
    if cell.failures:
        text += "*"  # some repetitions failed; the median is over the others
    if show_spread and cell.spread is not None:
        text += f" ±{cell.spread * 50:.0f}%"
    return text


def ratio_to_baseline(scenario: Scenario, medians: dict[str, float]) -> float | None:
    """SUBJECT relative to BASELINE, oriented so that > 1 means SUBJECT is better."""
    subject, baseline = medians.get(SUBJECT), medians.get(BASELINE)
    if subject is None or baseline is None or subject == 0 or baseline == 0:
        return None
    return subject / baseline if scenario.higher_is_better else baseline / subject


def build_rows(
    scenarios: list[Scenario],
    impls: list[str],
    cells: dict[tuple[str, str], Cell],
    show_spread: bool,
) -> tuple[list[str], list[list[str]]]:
    headers = [
        "Issue",
        "Scenario",
        "Unit",
        *impls,
        f"{SUBJECT} / {BASELINE}",
        f"Target ({SUBJECT})",
        "Met",
    ]
    rows = []
    for scenario in scenarios:
        medians = medians_of(scenario.name, impls, cells)
        ratio = ratio_to_baseline(scenario, medians)
        plain = medians_of(scenario.plain, impls, cells) if scenario.plain else None
        met = scenario.target.met(medians, scenario.higher_is_better, plain)
        unit = scenario.unit + ("" if scenario.higher_is_better else " (lower is better)")
        rows.append(
            [
                f"#{scenario.issue}",
                scenario.name,
                unit,
                *(format_cell(cells[(scenario.name, impl)], scenario.unit, show_spread) for impl in impls),
                "n/a" if ratio is None else f"{ratio:.2f}{TIMES}",
                scenario.target.text(scenario.unit),
                {True: "yes", False: "no", None: "-"}[met],
            ]
        )
    return headers, rows


def medians_of(name: str, impls: list[str], cells: dict[tuple[str, str], Cell]) -> dict[str, float]:
    medians = {}
    for impl in impls:
        cell = cells.get((name, impl))
        if cell is not None and cell.median is not None:
            medians[impl] = cell.median
    return medians


def build_guest_rows(
    scenarios: list[Scenario], impls: list[str], cells: dict[tuple[str, str], Cell]
) -> tuple[list[str], list[list[str]]]:
    """Guest mode against plain runs: per trio-API implementation, its guest and plain medians
    and their ratio (1 = guest mode costs nothing); "Met" when tether's ratio is at least trio's."""
    trio_api = [impl for impl in impls if impl in TRIO_API_IMPLEMENTATIONS]
    headers = ["Scenario", "Host", "Plain scenario"]
    for impl in trio_api:
        headers += [f"{impl} plain", f"{impl} guest", f"{impl} guest / plain"]
    headers.append("Met")
    rows = []
    for scenario in scenarios:
        if scenario.plain is None or scenario.host is None:
            continue
        guest = medians_of(scenario.name, trio_api, cells)
        plain = medians_of(scenario.plain, trio_api, cells)
        ratios = guest_to_plain_ratios(guest, plain, scenario.higher_is_better)
        row = [scenario.name, scenario.host, scenario.plain]
        for impl in trio_api:
            row += [
                format_value(plain[impl], scenario.unit) if impl in plain else "-",
                format_value(guest[impl], scenario.unit) if impl in guest else "-",
                f"{ratios[impl]:.2f}" if impl in ratios else "n/a",
            ]
        met = scenario.target.met(guest, scenario.higher_is_better, plain)
        row.append({True: "yes", False: "no", None: "-"}[met])
        rows.append(row)
    return headers, rows


def text_table(headers: list[str], rows: list[list[str]], text_columns_at_end: int = 2) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    # Implementation cells and ratios are right-aligned; the first three and the last
    # text_columns_at_end columns are text.
    numeric = set(range(3, len(headers) - text_columns_at_end))

    def line(row: list[str]) -> str:
        return "  ".join(
            value.rjust(widths[i]) if i in numeric else value.ljust(widths[i])
            for i, value in enumerate(row)
        ).rstrip()

    separator = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), separator, *(line(r) for r in rows)])


def markdown_table(headers: list[str], rows: list[list[str]], text_columns_at_end: int = 2) -> str:
    numeric = set(range(3, len(headers) - text_columns_at_end))
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- context


def git_description() -> str:
    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = " + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else ""
    return f"git {commit}{dirty}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_impl(impl: str) -> str:
    if impl == "tether":
        return f"tether (src/, {git_description()})"
    if impl == "asyncio":
        return f"asyncio (Python {platform.python_version()})"
    try:
        return f"{impl} {metadata.version(impl)}"
    except metadata.PackageNotFoundError:
        return f"{impl} (not installed)"


def header_lines(args: argparse.Namespace, impls: list[str]) -> list[str]:
    command = shlex.join(["python", *sys.argv])
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"command: {command}  (python = {sys.executable})",
        f"python: {platform.python_implementation()} {sys.version.split()[0]} "
        f"on {platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs",
        "implementations: " + ", ".join(describe_impl(impl) for impl in impls),
        f"repetitions: {args.reps}{' (median shown)' if args.reps > 1 else ''}, size scale {args.scale:g}; "
        "each measurement in a fresh process after an identical warm-up",
    ]


def failure_notes(cells: dict[tuple[str, str], Cell], verbose: bool) -> list[str]:
    """One line per distinct (implementation, status, reason), listing the scenarios hit."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    tracebacks: dict[tuple[str, str, str], str] = {}
    for (scenario_name, impl), cell in cells.items():
        for failure in cell.failures:
            key = (impl, failure["status"], failure.get("reason", ""))
            if scenario_name not in grouped.setdefault(key, []):
                grouped[key].append(scenario_name)
            if failure.get("traceback"):
                tracebacks[key] = failure["traceback"]
    notes = []
    for (impl, status, reason), names in grouped.items():
        notes.append(f"{impl}: {status} in {', '.join(names)}: {reason}")
        if verbose and (impl, status, reason) in tracebacks:
            notes.append("    " + tracebacks[(impl, status, reason)].rstrip().replace("\n", "\n    "))
    return notes


def write_markdown(path: Path, header: list[str], table: str, notes: list[str]) -> None:
    block = "\n".join(
        [
            MARK_START,
            *(f"- {line}" for line in header),
            "",
            table,
            "",
            *(f"- {note}" for note in notes),
            MARK_END,
        ]
    ).replace("\n\n" + MARK_END, "\n" + MARK_END)
    if path.exists():
        text = path.read_text()
        start, end = text.find(MARK_START), text.find(MARK_END)
        if start != -1 and end > start:
            path.write_text(text[:start] + block + text[end + len(MARK_END) :])
            return
    path.write_text(block + "\n")


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help=f"1 repetition, sizes scaled by {QUICK_SCALE}")
    parser.add_argument("--scale", type=float, default=None, help="multiply every scenario's size")
    parser.add_argument("--filter", default="", help="only scenarios whose name contains one of these comma-separated substrings")
    parser.add_argument("--impls", default=",".join(IMPLEMENTATIONS), help="comma-separated implementations (default: all)")
    parser.add_argument("--markdown", type=Path, help="write the Markdown table here (replacing only the marked block if the file has one)")
    parser.add_argument("--json", type=Path, help="raw results file (default: bench/results/<timestamp>.json)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per child process")
    parser.add_argument("--spread", action="store_true", help="show ±half the (max-min)/median spread in each cell")
    parser.add_argument("--verbose", action="store_true", help="print child tracebacks for errors")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    if args.scale is None:
        args.scale = QUICK_SCALE if args.quick else 1.0
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    chosen = [name.strip() for name in args.impls.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(IMPLEMENTATIONS))
    if unknown or not chosen:
        parser.error(f"--impls: unknown {unknown}; choose from {', '.join(IMPLEMENTATIONS)}")
    args.impl_list = [impl for impl in IMPLEMENTATIONS if impl in chosen]  # canonical column order
    return args


def select_scenarios(pattern: str) -> list[Scenario]:
    """The scenarios matching the filter, plus the plain scenarios of the guest-mode ones."""
    needles = [needle.strip() for needle in pattern.split(",") if needle.strip()]
    if not needles:
        return list(SCENARIOS)
    chosen = {s.name for s in SCENARIOS if any(needle in s.name for needle in needles)}
    chosen |= {SCENARIOS_BY_NAME[name].plain for name in chosen if SCENARIOS_BY_NAME[name].plain}
    return [s for s in SCENARIOS if s.name in chosen]


def main() -> int:
    args = parse_args()
    scenarios = select_scenarios(args.filter)
    if args.list:
        for s in scenarios:
            print(f"{s.name:<26} #{s.issue}  {s.unit:<15} {s.target.text(s.unit):<22} {s.description}")
        return 0
    if not scenarios:
        print(f"no scenario matches --filter {args.filter!r}", file=sys.stderr)
        return 2
    impls = args.impl_list
    header = header_lines(args, impls)
    print("\n".join(header), flush=True)
    print(file=sys.stderr)

    started = time.perf_counter()
    cells, raw = run_all(scenarios, impls, args)
    elapsed = time.perf_counter() - started

    headers, rows = build_rows(scenarios, impls, cells, args.spread)
    guest_headers, guest_rows = build_guest_rows(scenarios, impls, cells)
    notes = failure_notes(cells, args.verbose)
    print()
    print(text_table(headers, rows))
    print()
    print(
        f"Cells: {'one run' if args.reps == 1 else f'median of {args.reps} runs'}; "
        f"'{SUBJECT} / {BASELINE}' > 1 means {SUBJECT} is better; * = some repetitions failed."
    )
    markdown = markdown_table(headers, rows)
    if guest_rows:
        print()
        print(GUEST_CAPTION)
        print(text_table(guest_headers, guest_rows, text_columns_at_end=1))
        markdown += f"\n\n{GUEST_CAPTION}\n\n" + markdown_table(guest_headers, guest_rows, 1)
    for note in notes:
        print(f"note: {note}")
    print(f"total time: {elapsed:.0f} s")

    json_path = args.json or RESULTS_DIR / f"{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps({"header": header, "elapsed_seconds": elapsed, "results": raw}, indent=1) + "\n"
    )
    print(f"raw results: {json_path}")
    if args.markdown:
        write_markdown(args.markdown, header, markdown, notes)
        print(f"markdown table written to {args.markdown}")
    failed = any(f["status"] == "error" or f["status"] == "timeout" for c in cells.values() for f in c.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
