"""The Enclave platform around the network lab, as it runs in production.

* web/API: this test process (DRF's APIClient, Django's test client);
* the central worker (``celery -A config worker -Q ingest,central``) and the
  scheduler (``celery -A config beat``: failover every heartbeat interval),
  real subprocesses in the root namespace, on the test database;
* appliances: ``manage.py run_appliance NAME`` inside a scanner namespace,
  with the broker (the lab's Redis on a Unix socket) as their only link.

Everything is driven through the REST API, as a user or a script would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tests.waiting import wait_for

from .netlab import NetLab, Proc

HEARTBEAT_INTERVAL = 1  # seconds, appliances and the scheduler
OFFLINE_AFTER = 3  # seconds without a heartbeat: offline
DONE = ("finished", "error", "canceled")


def database_url() -> str:
    """The test database, as a URL the subprocesses can open."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(s.get("USER") or "", safe="")
        password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
        host = s.get("HOST") or ""
        port = f":{s['PORT']}" if s.get("PORT") else ""
        return f"postgres://{user}{password}@{host}{port}/{s['NAME']}"
    raise RuntimeError(f"no subprocess URL for a {connection.vendor} database")


def broker_for_this_process(url: str):
    """This process's Celery app (scan launch, revoke) sends to ``url`` while inside."""
    from tests.brokers import celery_broker

    return celery_broker(url, {"visibility_timeout": 3600})


@dataclass
class Stack:
    lab: NetLab
    api: object  # rest_framework.test.APIClient, logged in as a Manager
    db_url: str
    central: list[Proc] = field(default_factory=list)
    appliances: dict[str, Proc] = field(default_factory=dict)
    appliance_ids: dict[str, int] = field(default_factory=dict)

    # --- processes ---------------------------------------------------------------------

    def start_central(self, *, beat: bool = True, concurrency: int = 4) -> None:
        env = {
            "ENCLAVE_APPLIANCE_OFFLINE_AFTER": str(OFFLINE_AFTER),
            "ENCLAVE_HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL),
        }
        self.central.append(
            self.lab.start_central_worker(self.db_url, concurrency=concurrency, **env)
        )
        if beat:
            schedule = self.lab.workdir / f"beat-schedule-{time.monotonic_ns()}"
            self.central.append(
                self.lab.spawn(
                    [*self.lab.central_argv("beat"), "-S", "celery.beat:PersistentScheduler",
                     "-s", str(schedule), "--loglevel", "INFO"],
                    name="beat",
                    env=self.lab.enclave_env(DATABASE_URL=self.db_url, **env),
                    cwd=self.lab.repo_root,
                )
            )  # fmt: skip

    def stop_central(self) -> None:
        for proc in self.central:
            proc.stop()
        self.central.clear()

    def appliance(self, name: str, network_id: int, key: str, *, scanner: int = 1) -> int:
        """Registers an appliance through the API and starts it inside ``key``'s scanner."""
        response = self.api.post(
            "/api/v1/appliances/", {"name": name, "network": network_id}, format="json"
        )
        assert response.status_code == 201, response.content
        self.appliance_ids[name] = response.json()["id"]
        self.start_appliance(name, key, scanner=scanner)
        return self.appliance_ids[name]

    def start_appliance(self, name: str, key: str, *, scanner: int = 1) -> Proc:
        proc = self.lab.start_appliance(
            name, key, scanner=scanner, heartbeat_interval=HEARTBEAT_INTERVAL
        )
        self.appliances[name] = proc
        return proc

    def wait_online(self, *names: str, timeout: float = 60) -> None:
        def online():
            for name in names:
                body = self.api.get(f"/api/v1/appliances/{self.appliance_ids[name]}/").json()
                if body["status"] == "offline":
                    return False
            return True

        wait_for(online, timeout=timeout, what=f"appliances {names} to send heartbeats")

    def wait_beating(self, name: str, *, for_seconds: float = 2, timeout: float = 60) -> None:
        """Waits until appliance ``name`` has kept sending heartbeats for
        ``for_seconds`` from now: after a broker restart its sender may still
        be reconnecting (seen: no heartbeat for 4 s, longer than OFFLINE_AFTER)
        while its status, read from the last one, still says online."""
        since = datetime.now(UTC) + timedelta(seconds=for_seconds)

        def beating():
            body = self.api.get(f"/api/v1/appliances/{self.appliance_ids[name]}/").json()
            seen = body["last_seen"] and datetime.fromisoformat(body["last_seen"])
            return bool(seen) and seen >= since

        wait_for(beating, timeout=timeout, what=f"appliance {name} to keep sending heartbeats")

    def wait_offline(self, *names: str, timeout: float = 30) -> None:
        def offline():
            return all(
                self.api.get(f"/api/v1/appliances/{self.appliance_ids[n]}/").json()["status"]
                == "offline"
                for n in names
            )

        wait_for(offline, timeout=timeout, what=f"appliances {names} to be offline")

    def scanning(self, name: str) -> list[int]:
        """The nmap processes appliance ``name`` runs right now (its pids)."""
        return self.appliances[name].children_named("nmap")

    # --- API ---------------------------------------------------------------------------

    def network(self, name: str, space: str = "10.77.0.0/24") -> int:
        response = self.api.post(
            "/api/v1/networks/", {"name": name, "address_space": space}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def option_profile(self, name: str = "netns", ports: str = "22,80,443") -> int:
        response = self.api.post(
            "/api/v1/option-profiles/",
            {"name": name, "tcp_ports": ports, "service_detection": True,
             "max_parallel_hosts": 8, "host_timeout": 120},
            format="json",
        )  # fmt: skip
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def launch(
        self, title: str, network_id: int, targets: str, profile: int, appliance: int | None = None
    ) -> int:
        response = self.api.post(
            "/api/v1/scans/",
            {"title": title, "type": "vulnerability", "network": network_id,
             "appliance": appliance, "targets": targets, "option_profile": profile},
            format="json",
        )  # fmt: skip
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def scanning_alone(self, title: str, target: str = "10.77.0.5") -> tuple[int, int, int]:
        """Network "Plant A" with one appliance, netns-a1, running a scan of
        ``target`` (its nmap started): the network's, option profile's and scan's ids."""
        net = self.network("Plant A")
        self.appliance("netns-a1", net, "a")
        self.wait_online("netns-a1")
        profile = self.option_profile()
        scan_id = self.launch(title, net, target, profile)
        wait_for(lambda: self.scanning("netns-a1"), timeout=30, what="nmap", every=0.05)
        return net, profile, scan_id

    def scan(self, scan_id: int) -> dict:
        return self.api.get(f"/api/v1/scans/{scan_id}/").json()

    def wait_done(self, scan_id: int, timeout: float = 120) -> dict:
        return wait_for(
            lambda: (body := self.scan(scan_id))["status"] in DONE and body,
            timeout=timeout,
            what=f"scan {scan_id} to end",
            every=0.3,
        )

    def all_pages(self, url: str) -> list[dict]:
        rows, next_url = [], url
        while next_url:
            body = self.api.get(next_url).json()
            rows.extend(body["results"])
            next_url = body["next"]
        return rows

    def detections(self, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in {"page_size": 1000, **filters}.items())
        return self.all_pages(f"/api/v1/detections/?{query}")

    def logs(self) -> str:
        return "\n".join(
            f"----- {p.name}\n{p.output(5000)}" for p in [*self.central, *self.appliances.values()]
        )
