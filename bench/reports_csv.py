"""CSV report benchmark: 1,000,000 findings (2 networks x 25,000 hosts with the
same IPs x 20), streamed from PostgreSQL to the file. Aim: 100,000 rows/s or more,
with memory that does not grow with the number of rows (compared with a report
a tenth of the size).

    .venv/bin/python bench/reports_csv.py
"""

import tempfile
import time

from reports_common import CpuClock, PeakMemory, bench_user, make_data, setup_django


def run(user, *, title, targets, network, aim=True):
    from reports import services
    from reports.models import ReportStatus

    report = services.report_create(
        actor=user,
        title=title,
        format="csv",
        targets=targets,
        network=network,
        statuses=["new", "active", "reopened", "fixed"],
    )
    with PeakMemory() as memory, CpuClock() as cpu:
        baseline = memory.peak
        started = time.perf_counter()
        report = services.report_generate(report=report)
        elapsed = time.perf_counter() - started
    assert report.status == ReportStatus.FINISHED, report.error
    rate = report.findings_count / elapsed
    verdict = (" [aim >= 100,000: " + ("OK]" if rate >= 100_000 else "MISSED]")) if aim else ""
    print(
        f"CSV {title}: {report.findings_count:,} rows, {report.size / 2**20:.0f} MB in "
        f"{elapsed:.1f} s = {rate:,.0f} rows/s{verdict}; memory "
        f"{baseline / 2**20:.0f} MB before, peak {memory.peak / 2**20:.0f} MB "
        f"(+{(memory.peak - baseline) / 2**20:.0f} MB)"
    )
    print(f"  {cpu.describe()}")
    return memory.peak - baseline


def main():
    setup_django(tempfile.mkdtemp(prefix="enclave-bench-csv-"))
    nets = make_data(networks=2, hosts_per_network=25_000, findings_per_host=20)
    user = bench_user()
    # A twentieth of the rows, to compare memory with (its fixed costs weigh more).
    small = run(user, title="small", targets="10.0.0.0-10.0.9.255", network=nets[0].pk, aim=False)
    large = run(user, title="1M", targets="10.0.0.0/8", network="all")
    print(
        f"memory growth: +{small / 2**20:.0f} MB for 51,200 rows, +{large / 2**20:.0f} MB "
        f"for 1,000,000 rows"
    )


if __name__ == "__main__":
    main()
