"""The seed's concurrent fetching with httpx, against a local HTTP server (no network needed).

python -m tether examples/seeds/http_fetch.py
"""

import http.server
import threading

import httpx
import trio


class Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"page {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def fetch_resource(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    print(f"Completed {url.rsplit('/', 1)[-1]} with status: {response.status_code}")


async def aggregate_requests(base: str) -> None:
    targets = [f"{base}/python", f"{base}/github"]
    async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
        for target in targets:
            nursery.start_soon(fetch_resource, client, target)


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        trio.run(aggregate_requests, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
