"""PDF report benchmark: 1,000 hosts x 20 findings (20,000 rows), two networks
holding the same IPs. Aim: under 60 s, peak memory under 1 GB (all processes).

    .venv/bin/python bench/reports_pdf.py            # by host, then by vulnerability
    .venv/bin/python bench/reports_pdf.py --sort host --keep
"""

import argparse
import tempfile
import time

from reports_common import CpuClock, PeakMemory, bench_user, make_data, setup_django


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sort", choices=["host", "vulnerability", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="keep the PDFs (prints the paths)")
    args = parser.parse_args()
    media = tempfile.mkdtemp(prefix="enclave-bench-pdf-")
    setup_django(media)
    import logging

    logging.getLogger("reports").setLevel(logging.INFO)

    from pypdf import PdfReader

    from reports import services
    from reports.models import ReportStatus
    from reports.renderers.pdf_report import chunk_rows, processes

    make_data(networks=2, hosts_per_network=500, findings_per_host=20)
    user = bench_user()
    sorts = ["host", "vulnerability"] if args.sort == "both" else [args.sort]
    print(f"settings: {processes()} processes, chunks of {chunk_rows()} findings")
    for sort in sorts:
        report = services.report_create(
            actor=user,
            title=f"Benchmark by {sort}",
            format="pdf",
            sort=sort,
            targets="10.0.0.0/8",
            network="all",
            statuses=["new", "active", "reopened", "fixed"],
        )
        with PeakMemory() as memory, CpuClock() as cpu:
            started = time.perf_counter()
            report = services.report_generate(report=report)
            elapsed = time.perf_counter() - started
        assert report.status == ReportStatus.FINISHED, report.error
        pages = len(PdfReader(report.file.path).pages)
        verdict = "OK" if elapsed < 60 and memory.peak < 2**30 else "MISSED"
        print(
            f"PDF by {sort}: {report.hosts_count:,} hosts, {report.findings_count:,} findings, "
            f"{pages} pages, {report.size / 2**20:.1f} MB in {elapsed:.1f} s, "
            f"peak memory {memory.peak / 2**20:.0f} MB (all processes)  "
            f"[aim < 60 s, < 1024 MB: {verdict}]"
        )
        print(f"  {cpu.describe()}")
        if args.keep:
            print(f"  {report.file.path}")


if __name__ == "__main__":
    main()
