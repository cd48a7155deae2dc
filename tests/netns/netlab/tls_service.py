"""A small HTTPS server for the network lab, serving whatever certificate it is given.

The lab gives it an expired self-signed certificate, so a scanner inside the
namespace has a real TLS service with a real certificate problem to find. The
handshake happens in each connection's own thread: a client that connects and
says nothing (nmap's NULL probe) does not hold up anybody else.

    python tls_service.py --bind 10.77.0.5 --port 443 --cert c.pem --key k.pem --directory www
"""

import argparse
import ssl
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    """Python's own file server (nmap knows its banner, so -sV settles quickly)."""

    def log_message(self, format, *args):  # noqa: A002
        pass


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context: ssl.SSLContext, directory: str):
        self.context = context
        super().__init__(address, partial(Handler, directory=directory))

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a probe that did not speak TLS, or went away
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # scanners drop connections all the time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--directory", required=True, help="what to serve")
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    TLSServer((args.bind, args.port), context, args.directory).serve_forever()


if __name__ == "__main__":
    main()
