"""Feeds benchmark, the pure half: parsing, indexing and matching, in one process.

    .venv/bin/python bench/feeds_generate.py --records 250000 [--gzip]
    .venv/bin/python bench/feeds_bench.py [--feed bench/out/feeds/nvdcve-2.0-bench-250000.json]
                                         [--hosts 100000] [--services 3]

Stages (each prints its figures; ``STAGES`` lists them, so the database half
can add its import and re-evaluation stages beside them):

* ``parse``: stream the NVD file through ``nvd.parse``: records/s, MB/s, the
  process's peak RSS (ru_maxrss, measured before anything else grows it), and
  tracemalloc's peak of Python allocations over the first
  ``--tracemalloc-records`` records (the parser's own working memory);
* ``kev_epss``: the KEV catalog and EPSS CSV written beside it;
* ``index``: stream the file again into ``MatchIndex.add`` (time spent adding,
  criteria indexed, RSS after);
* ``match``: ``--hosts`` synthetic hosts of ``--services`` services each
  (feeds_generate.inventory: the catalogue's products, distribution builds,
  services without a CPE or a version), ``match_host`` for each: hosts/s,
  matches, distinct (product, version) evaluations.

The aims of issue #16 for the whole import (250,000 records < 5 min, < 500 MB)
and re-evaluation (100,000 hosts < 2 min) include the database; the figures
here are the pure part of them. Wall and CPU time are both printed: on a
shared machine the wall clock also counts other processes' turns.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from feeds_generate import DEFAULT_OUT, inventory  # noqa: E402

from scans.feeds import FEEDS, detect_format, epss, kev, nvd, open_feed  # noqa: E402
from scans.feeds.matcher import InventoryItem, MatchIndex  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_parse(args, state) -> dict:
    size = args.feed.stat().st_size
    started, cpu = time.perf_counter(), time.process_time()
    count = criteria = 0
    with open_feed(args.feed) as stream:
        name = detect_format(stream)
        for record in nvd.parse(stream):
            count += 1
            criteria += len(record.criteria)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_rss = rss_mb()
    state["records"] = count
    # tracemalloc slows Python several times: measured on a prefix of the file.
    tracemalloc.start()
    traced = 0
    with open_feed(args.feed) as stream:
        for traced, _record in enumerate(nvd.parse(stream), start=1):
            if traced >= args.tracemalloc_records:
                break
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "format": name,
        "file": f"{size / 1e6:,.1f} MB ({'gzip' if args.feed.suffix == '.gz' else 'plain'})",
        "records": f"{count:,} ({criteria:,} vulnerable criteria)",
        "time (wall / CPU)": f"{took:,.1f} s / {cpu:,.1f} s",
        "records/s (wall / CPU)": f"{count / took:,.0f} / {count / cpu:,.0f}",
        "MB/s (wall)": f"{size / 1e6 / took:,.1f}",
        "peak RSS of the process": f"{peak_rss:,.0f} MB",
        f"tracemalloc peak over {traced:,} records": f"{python_peak / 1e6:,.2f} MB",
    }


def stage_kev_epss(args, state) -> dict:
    figures = {}
    count = args.feed.name.removeprefix("nvdcve-2.0-bench-").split(".")[0]
    for label, path, module in (
        ("KEV", args.feed.parent / f"kev-bench-{count}.json", kev),
        ("EPSS", args.feed.parent / f"epss-bench-{count}.csv.gz", epss),
    ):
        if not path.exists():
            figures[label] = f"{path.name} not found, skipped"
            continue
        started = time.perf_counter()
        with open_feed(path) as stream:
            assert FEEDS[detect_format(stream)] is module
            count = sum(1 for _ in module.parse(stream))
        took = time.perf_counter() - started
        figures[label] = f"{count:,} in {took:,.2f} s ({count / took:,.0f}/s)"
    return figures


def stage_index(args, state) -> dict:
    index = MatchIndex()
    adding = 0.0
    started, cpu = time.perf_counter(), time.process_time()
    with open_feed(args.feed) as stream:
        for record in nvd.parse(stream):
            before = time.perf_counter()
            index.add(record)
            adding += time.perf_counter() - before
    state["index"] = index
    stats = index.stats
    return {
        "time (parse + add, wall / CPU)": f"{time.perf_counter() - started:,.1f} s / "
        f"{time.process_time() - cpu:,.1f} s",
        "time in add": f"{adding:,.1f} s",
        "CVEs indexed": f"{stats.cves:,}",
        "criteria indexed": f"{stats.criteria:,} over {stats.products:,} products",
        "every-version criteria (not matched)": f"{stats.every_version:,}",
        "unreadable versions": f"{stats.unreadable:,}",
        "peak RSS of the process": f"{rss_mb():,.0f} MB",
    }


def stage_match(args, state) -> dict:
    rng = random.Random(11)
    hosts = [
        [InventoryItem(**item) for item in inventory(rng, args.services)] for _ in range(args.hosts)
    ]
    if "index" not in state:
        stage_index(args, state)
    index: MatchIndex = state["index"]
    started, cpu = time.perf_counter(), time.process_time()
    matches = hosts_matched = 0
    for items in hosts:
        found = index.match_host(items)
        matches += len(found)
        hosts_matched += bool(found)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    services = args.hosts * args.services
    return {
        "hosts × services": f"{args.hosts:,} × {args.services} = {services:,}",
        "time (wall / CPU)": f"{took:,.1f} s / {cpu:,.1f} s",
        "hosts/s (wall / CPU)": f"{args.hosts / took:,.0f} / {args.hosts / cpu:,.0f}",
        "matches": f"{matches:,} on {hosts_matched:,} hosts",
        "distinct (product, version) evaluated": f"{index.stats.evaluated:,}",
        "peak RSS of the process": f"{rss_mb():,.0f} MB",
    }


STAGES = [
    ("parse", stage_parse),
    ("kev_epss", stage_kev_epss),
    ("index", stage_index),
    ("match", stage_match),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, default=DEFAULT_OUT / "nvdcve-2.0-bench-250000.json")
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--tracemalloc-records", type=int, default=20_000)
    parser.add_argument(
        "--stages", default=",".join(name for name, _ in STAGES), help="comma-separated"
    )
    args = parser.parse_args()
    if not args.feed.exists():
        sys.exit(f"{args.feed} not found: run bench/feeds_generate.py first.")
    wanted = args.stages.split(",")
    state: dict = {}
    for name, stage in STAGES:
        if name not in wanted:
            continue
        print(f"== {name}", flush=True)
        for label, value in stage(args, state).items():
            print(f"   {label:<44} {value}", flush=True)


if __name__ == "__main__":
    main()
