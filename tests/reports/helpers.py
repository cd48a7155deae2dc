"""Reading real report files back: text from the WeasyPrint PDF (pypdf), rows from CSV;
and real loopback services for what reports must not trust."""

import contextlib
import csv
import http.server
import io
import socketserver
import subprocess
import threading
from pathlib import Path

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


class RecordingHTTPServer:
    """An HTTP server on 127.0.0.1 that answers every GET with a small PNG (or CSS
    for ``.css``) and records each path asked for: a renderer that fetches shows."""

    PNG = bytes.fromhex(  # 1x1 red pixel
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
    CSS = b"body { background: #f00 }"

    def __init__(self):
        self.hits: list[str] = []

    def __enter__(self) -> "RecordingHTTPServer":
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.hits.append(self.path)
                body, kind = (
                    (recorder.CSS, "text/css")
                    if self.path.endswith(".css")
                    else (recorder.PNG, "image/png")
                )
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def pdf_page_png(pdf_path, out_prefix, *, page: int = 1, dpi: int = 50) -> bytes:
    """One page of a PDF as PNG bytes, drawn by poppler's pdftoppm."""
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf_path),
            str(out_prefix),
        ],
        check=True,
    )
    return Path(f"{out_prefix}.png").read_bytes()


def assert_same_pages(ours, theirs, workdir) -> None:
    """Both PDFs have the same pages, pixel for pixel (as pdftoppm draws them)."""
    pages = len(PdfReader(ours).pages)
    assert pages == len(PdfReader(theirs).pages)
    for page in range(1, pages + 1):
        assert pdf_page_png(ours, workdir / f"ours-{page}", page=page) == pdf_page_png(
            theirs, workdir / f"theirs-{page}", page=page
        ), f"page {page} differs"
