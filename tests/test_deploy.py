"""The deployment files in deploy/ (docs/deploy.md): nginx accepts the site file, and a real
nginx running it in front of the app serves static files and public media from disk, never a
private document, and proxies the rest (GraphQL) to the app."""

import http.client
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx-shanhai.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        pytest.fail("nginx is missing: scripts/ensure-system-deps.sh installs it (apt nginx).")
    return found


def main_config(tmp: Path, site: Path) -> Path:
    """A main nginx.conf that includes the site, with every path nginx writes under `tmp`."""
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / folder).mkdir(exist_ok=True)
    # As root, the workers would run as www-data, which cannot read pytest's private folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = tmp / "nginx.conf"
    config.write_text(
        f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""
    )
    return config


def test_nginx_accepts_the_site_file(tmp_path):
    config = main_config(tmp_path, SITE)
    result = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture
def nginx_in_front(live_server, settings, tmp_path):
    """nginx running the site file, listening on a free port, with the production folders
    swapped for this test's and the upstream for the live server."""
    from tests.pgserver import _free_port

    port = _free_port()
    static_root = tmp_path / "staticfiles"
    static_root.mkdir()
    settings.STATIC_ROOT = static_root
    upstream = live_server.url.removeprefix("http://")
    site_text = (
        SITE.read_text()
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("listen [::]:80;", "")
        .replace("/srv/shanhai/staticfiles/", f"{static_root}/")
        .replace("/srv/shanhai/media/", f"{settings.MEDIA_ROOT}/")
        .replace("server 127.0.0.1:8000;", f"server {upstream};")
    )
    assert site_text.count(str(tmp_path)) == 2  # both roots were found and replaced
    site = tmp_path / "site.conf"
    site.write_text(site_text)
    config = main_config(tmp_path, site)
    binary = nginx_binary()
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while not (tmp_path / "nginx.pid").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
        time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=15)


def get(port: int, path: str, method: str = "GET", body: bytes | None = None, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_nginx_serves_static_files_from_collectstatic_output(nginx_in_front, settings):
    # A file only STATIC_ROOT holds: the app's own static handler could not have served it.
    (Path(settings.STATIC_ROOT) / "deploy-check.css").write_text("body{}")
    status, headers, body = get(nginx_in_front, "/static/deploy-check.css")
    assert (status, body) == (200, b"body{}")
    assert headers["Content-Type"] == "text/css"


@pytest.mark.django_db(transaction=True)
def test_nginx_serves_public_media(nginx_in_front, settings):
    image = Path(settings.MEDIA_ROOT) / "products" / "p.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\xff\xd8\xff\xe0jpeg")
    status, headers, body = get(nginx_in_front, "/media/products/p.jpg")
    assert (status, body) == (200, b"\xff\xd8\xff\xe0jpeg")
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path",
    [
        "/private-media/documents/id.pdf",
        "/media/../private-media/documents/id.pdf",
        "/media/%2e%2e/private-media/documents/id.pdf",
        "/static/../private-media/documents/id.pdf",
    ],
)
def test_nginx_never_serves_private_documents(nginx_in_front, settings, path):
    document = Path(settings.PRIVATE_MEDIA_ROOT) / "documents" / "id.pdf"
    document.parent.mkdir(parents=True)
    document.write_bytes(b"%PDF-1.4 secret")
    status, _headers, body = get(nginx_in_front, path)
    assert status in (400, 404)
    assert b"secret" not in body


@pytest.mark.django_db(transaction=True)
@override_settings(ALLOWED_HOSTS=["shanhai.example.org", "127.0.0.1", "localhost", "testserver"])
def test_nginx_proxies_graphql_to_the_app(nginx_in_front):
    status, headers, body = get(
        nginx_in_front,
        "/graphql/",
        "POST",
        json.dumps({"query": "{ __typename }"}).encode(),
        **{"Content-Type": "application/json", "Host": "shanhai.example.org"},
    )
    assert status == 200, body
    assert json.loads(body) == {"data": {"__typename": "Query"}}
    assert headers["Server"].startswith("nginx")


class Probe(http.server.BaseHTTPRequestHandler):
    """A readiness endpoint answering the status its server was given."""

    def do_GET(self):  # noqa: N802 - the handler's API
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b'{"ready": true}' if self.server.status == 200 else b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def readiness_probe():
    servers = []

    def serve(status: int) -> str:
        server = http.server.HTTPServer(("127.0.0.1", 0), Probe)
        server.status = status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/readyz"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def deploy_check(readyz_url: str | None) -> subprocess.CompletedProcess:
    from tests.shop.test_settings import PRODUCTION_ENV

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and not k.startswith(("STRIPE_", "SITE_URL", "LEDGER_SIGNING"))
    }
    env = {**env, **PRODUCTION_ENV, "DATABASE_REPLICA_URL": "postgres://shanhai@replica/shanhai"}
    env.pop("READYZ_URL", None)
    if readyz_url:
        env["READYZ_URL"] = readyz_url
    return subprocess.run(
        ["make", "--no-print-directory", "deploy-check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_passes_with_production_settings_and_a_ready_instance(readiness_probe):
    result = deploy_check(readiness_probe(200))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "readyz answered 200" in result.stdout


@pytest.mark.parametrize("status", [503, 301])
def test_deploy_check_fails_unless_the_readiness_probe_answers_200(readiness_probe, status):
    result = deploy_check(readiness_probe(status))
    assert result.returncode != 0
    assert f"readyz answered {status}" in result.stdout


def test_deploy_check_without_a_readiness_url_says_it_did_not_probe():
    result = deploy_check(None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "READYZ_URL is not set" in result.stdout


@pytest.mark.parametrize("unit", ["shanhai-web.service", "shanhai-worker.service"])
def test_systemd_accepts_the_unit(tmp_path, unit):
    """`systemd-analyze verify` on the unit, with the install folder replaced by this checkout
    (it checks that the commands exist, and this checkout has the .venv they name)."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.fail("systemd-analyze is missing: scripts/ensure-system-deps.sh installs it.")
    text = (ROOT / "deploy" / unit).read_text()
    assert "/srv/shanhai/app/.venv/bin/" in text
    copy = tmp_path / unit
    copy.write_text(text.replace("/srv/shanhai/app", str(ROOT)))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
