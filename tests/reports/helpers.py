"""Reading real report files back: text from the WeasyPrint PDF (pypdf), rows from CSV;
and real loopback services for what reports must not trust."""

import contextlib
import csv
import io
import socketserver
import threading

from pypdf import PdfReader


def pdf_pages(path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def csv_rows(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def csv_from_bytes(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


class GreetingService:
    """A TCP service on one loopback address that sends ``banner`` to every client at
    once, reads what the client sends for a moment, then hangs up (as an HTTP/1.0
    server does): nmap's service detection names it in about a second."""

    def __init__(self, ip: str, banner: bytes):
        self.ip, self.banner = ip, banner
        self.server: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    def __enter__(self) -> "GreetingService":
        banner = self.banner

        class Greet(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(0.3)
                with contextlib.suppress(OSError):
                    sock.sendall(banner)
                    sock.recv(4096)  # a probe's bytes: read, so closing sends no RST

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((self.ip, 0), Greet)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
