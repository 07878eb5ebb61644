"""Stand-in for kube-apiserver in the LB failover test: HTTPS on 0.0.0.0:6443.

GET /healthz answers 200 "ok <hostname>", or 500 while /run/standin-fail exists (an
unhealthy apiserver). Any other path answers 200 with the hostname, so the test can
tell which backend haproxy chose. The certificate is self-signed (made at the first start).
"""
import http.server
import os
import socket
import ssl
import subprocess

CERT = "/etc/standin.pem"
HOST = socket.gethostname()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        status, body = 200, HOST
        if self.path == "/healthz":
            if os.path.exists("/run/standin-fail"):
                status, body = 500, "failing " + HOST
            else:
                body = "ok " + HOST
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    """TLS handshake in each connection's thread, not in the accept loop."""

    daemon_threads = True
    context = None

    def finish_request(self, request, client_address):
        request.settimeout(5)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)


def main():
    if not os.path.exists(CERT):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=" + HOST, "-keyout", CERT, "-out", CERT],
                       check=True, capture_output=True)
    server = Server(("0.0.0.0", 6443), Handler)
    server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.context.load_cert_chain(CERT)
    server.serve_forever()


if __name__ == "__main__":
    main()
