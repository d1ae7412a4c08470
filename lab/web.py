"""nginx-based lab hosts: the fake Exchange OWA surface, a legacy-TLS intranet and a plain HTTPS site.

Each instance gets its own nginx.conf, pid file, logs and temp paths in the host's work dir and runs in
the foreground (``daemon off``), so the PID the lab holds is the nginx master.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from pathlib import Path

from duecare.lab import certs, ntlm
from duecare.lab.daemon import Daemon
from duecare.lab.hosts import Host

OWA_DIR = Path(__file__).resolve().parent / "owa"
HEADERS_MORE = Path("/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so")
EXPIRED_NOT_BEFORE = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
EXPIRED_NOT_AFTER = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)

_SKELETON = """\
{modules}
user www-data;
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{body}
}}
"""

_PLAIN_SITE = """\
    server {{
        listen {ip}:443 ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        ssl_ciphers {ciphers};
        root {docroot};
        index index.html;
    }}
"""


def render(template: str, **values: str) -> str:
    """Fill ``{{name}}`` placeholders (nginx's own ``$var`` and braces stay untouched)."""
    out = template
    for name, value in values.items():
        out = out.replace("{{" + name + "}}", value)
    leftover = re.findall(r"\{\{\w+\}\}", out)
    if leftover:
        raise ValueError(f"unfilled template placeholders: {sorted(set(leftover))}")
    return out


def _favicon() -> bytes:
    """A valid 1x1 32-bit ICO (ICONDIR + ICONDIRENTRY + BITMAPINFOHEADER + pixel + AND mask)."""
    bmp = struct.pack("<IiiHHIIiiII", 40, 1, 2, 1, 32, 0, 8, 0, 0, 0, 0) + b"\x00\x78\xd4\xff" + bytes(4)
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, len(bmp), 22) + bmp


def _nginx(workdir: Path, body: str, ports: tuple[int, ...], *, modules: str = "", tokens: bool = True) -> Daemon:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    tokens_line = "" if tokens else "    server_tokens off;\n"
    conf = workdir / "nginx.conf"
    conf.write_text(_SKELETON.format(modules=modules, dir=workdir, body=tokens_line + body))
    return Daemon(
        name="nginx",
        argv=["nginx", "-e", str(workdir / "error.log"), "-p", f"{workdir}/", "-c", str(conf)],
        tcp_ports=ports,
        logs=(workdir / "error.log",),
    )


def owa(host: Host, workdir: Path) -> Daemon:
    """Exchange front end: 80 → 443 redirect, /owa/ 302, logon page, exporttool manifest, 401s."""
    f = host.facts
    build, path_build = f["exchange_build"], f["owa_path_build"]
    docroot = workdir / "www"
    docroot.mkdir(parents=True, exist_ok=True)
    tls = certs.self_signed(
        workdir / "tls", f["cert_cn"], dns_names=(f["cert_cn"], f"{f['cert_cn']}.{f['ntlm_dns_domain']}")
    )
    values = {"build": build, "path_build": path_build}
    (docroot / "logon.aspx.html").write_text(render((OWA_DIR / "logon.aspx.html").read_text(), **values))
    (docroot / "exporttool.application.xml").write_text(
        render((OWA_DIR / "exporttool.application.xml").read_text(), **values)
    )
    (docroot / "favicon.ico").write_bytes(_favicon())
    for page in ("moved.html", "notfound.html"):
        (docroot / page).write_text((OWA_DIR / page).read_text())
    (docroot / "empty").write_bytes(b"")
    body_moved = workdir / "owa-body-moved.conf"
    body_moved.write_text((OWA_DIR / "body-moved.conf").read_text())
    headers = workdir / "owa-headers.conf"
    headers.write_text(
        render(
            (OWA_DIR / "headers.conf").read_text(),
            build=build,
            be_target=f["be_target"],
            fe_server=f["fe_server"],
        )
    )
    type2 = ntlm.challenge_b64(
        netbios_domain=f["ntlm_netbios_domain"],
        netbios_computer=f["fe_server"],
        dns_domain=f["ntlm_dns_domain"],
        os_version=f["ntlm_os_version"],
    )
    body = render(
        (OWA_DIR / "owa.conf").read_text(),
        ip=host.ip,
        cert=str(tls.cert),
        key=str(tls.key),
        docroot=str(docroot),
        headers=str(headers),
        body_moved=str(body_moved),
        ntlm_type2=type2,
        basic_realm=f["basic_realm"],
        path_build_re=re.escape(path_build),
        build_re=re.escape(build),
    )
    if not HEADERS_MORE.is_file():
        raise FileNotFoundError(f"{HEADERS_MORE} missing: apt-get install libnginx-mod-http-headers-more-filter")
    return _nginx(workdir, body, (80, 443), modules=f"load_module {HEADERS_MORE};", tokens=False)


def _site(host: Host, workdir: Path, tls: certs.CertFiles, *, protocols: str, ciphers: str) -> str:
    docroot = workdir / "www"
    docroot.mkdir(parents=True, exist_ok=True)
    (docroot / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>{host.hostname}</title></head>"
        f"<body><h1>{host.hostname}</h1><p>{host.role}</p></body></html>\n"
    )
    return _PLAIN_SITE.format(
        ip=host.ip, cert=tls.cert, key=tls.key, protocols=protocols, ciphers=ciphers, docroot=docroot
    )


def legacy_tls(host: Host, workdir: Path) -> Daemon:
    """HTTPS with a certificate that expired in 2021 and TLS 1.0/1.1 still enabled.

    OpenSSL 3 refuses TLS < 1.2 at the default security level 1 (SHA-1 handshake signatures), so
    the cipher string lowers it to 0; a client needs ``-cipher DEFAULT:@SECLEVEL=0`` as well.
    """
    cn = host.facts["cert_cn"]
    tls = certs.self_signed(
        workdir / "tls", cn, dns_names=(cn,), not_before=EXPIRED_NOT_BEFORE, not_after=EXPIRED_NOT_AFTER
    )
    body = _site(host, workdir, tls, protocols="TLSv1 TLSv1.1 TLSv1.2", ciphers="DEFAULT:@SECLEVEL=0")
    return _nginx(workdir, body, (443,))


def web(host: Host, workdir: Path) -> Daemon:
    """A plain, current HTTPS site (self-signed)."""
    cn = host.facts["cert_cn"]
    tls = certs.self_signed(workdir / "tls", cn, dns_names=(cn, f"{cn.lower()}.lab.local"))
    body = _site(host, workdir, tls, protocols="TLSv1.2 TLSv1.3", ciphers="HIGH:!aNULL:!MD5")
    return _nginx(workdir, body, (443,))
