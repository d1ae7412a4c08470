"""The lab itself: every host answers as its spec says, and nothing leaks to the root namespace.

Every packet here is sent from inside the scanner namespace (``lab.exec_argv``); the root-namespace
checks only read interfaces and routes.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from duecare.lab import netns
from duecare.lab.hosts import Host
from duecare.lab.lab import Lab
from tests.lab.fixtures import require_lab

pytestmark = pytest.mark.lab

# Fetch one URL without following redirects or checking the certificate; runs in the scanner ns.
_FETCH = """
import http.client, json, ssl, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
ctx = ssl._create_unverified_context()
hdrs = {k: v for k, v in (h.split(": ", 1) for h in sys.argv[2:])}
c = (http.client.HTTPSConnection(u.netloc, context=ctx, timeout=5) if u.scheme == "https"
     else http.client.HTTPConnection(u.netloc, timeout=5))
c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=hdrs)
r = c.getresponse()
print(json.dumps({"status": r.status, "headers": r.getheaders(), "body": r.read().decode("latin-1")}))
"""


def _fetch(lab: Lab, url: str, *headers: str) -> tuple[int, list[tuple[str, str]], str]:
    out = subprocess.run(
        lab.exec_argv([sys.executable, "-c", _FETCH, url, *headers]),
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    data = json.loads(out)
    return data["status"], [(k.lower(), v) for k, v in data["headers"]], data["body"]


def _header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k == name.lower()]


def _ip_json(*argv: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-j", *argv], capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []


def test_up_within_a_minute(lab: Lab) -> None:
    assert lab.timings["up"] < 60


def test_root_namespace_has_no_lab_address_link_or_route(lab: Lab) -> None:
    subnet = ipaddress.ip_network(lab.subnet)
    for link in _ip_json("-4", "addr", "show"):
        for addr in link.get("addr_info", []):
            assert ipaddress.ip_address(addr["local"]) not in subnet, link["ifname"]
    # No root interface is the peer of anything inside a lab namespace.
    lab_nsids = {e["nsid"] for e in _ip_json("netns", "list-id") if str(e.get("name", "")).startswith(lab.prefix + "-")}
    for link in _ip_json("link", "show"):
        assert link.get("link_netnsid") not in lab_nsids, link["ifname"]
    # Only a default route (if any) could cover the lab subnet; `ip route get` computes, sends nothing.
    for route in _ip_json("route", "show", "match", "198.18.0.10"):
        assert route["dst"] == "default", route
    got = subprocess.run(["ip", "-j", "route", "get", "198.18.0.10"], capture_output=True, text=True)
    if got.returncode == 0:  # else: unreachable from the root namespace, even better
        (route,) = json.loads(got.stdout)
        assert "gateway" in route, route  # via the root's default gateway, not an on-link lab route


def test_every_veth_end_is_inside_the_lab(lab: Lab) -> None:
    names = {e["nsid"]: e.get("name") for e in _ip_json("-n", lab.bridge_ns, "netns", "list-id")}
    peers = {names.get(link["link_netnsid"]) for link in _ip_json("-n", lab.bridge_ns, "link", "show", "type", "veth")}
    assert peers == {h.namespace for h in lab.hosts}
    for ns in lab.namespaces:
        assert _ip_json("-n", ns, "route", "show", "default") == [], ns


def test_hosts_have_their_address_and_mac(lab: Lab) -> None:
    for host in lab.hosts:
        (eth0,) = _ip_json("-n", host.namespace, "addr", "show", "dev", "eth0")
        assert eth0["address"] == host.mac
        assert [a["local"] for a in eth0["addr_info"]] == [host.ip]


def test_expected_tcp_ports_answer_from_the_scanner(lab: Lab) -> None:
    endpoints = [f"{h.ip}:{p}" for h in lab.hosts for p in h.tcp_ports]
    result = lab.probe_tcp(endpoints, timeout=2)
    assert sorted(result["open"]) == sorted(endpoints)


def test_closed_and_filtered_ports(lab: Lab) -> None:
    by_name = {h.name: h for h in lab.hosts}
    fw, idle, rdp = by_name["firewalled"], by_name["idle1"], by_name["rdp-std"]
    result = lab.probe_tcp([f"{fw.ip}:22", f"{idle.ip}:22", f"{rdp.ip}:22", f"{fw.ip}:80"], timeout=1)
    assert sorted(result["silent"]) == sorted([f"{fw.ip}:22", f"{fw.ip}:80"])
    assert sorted(result["refused"]) == sorted([f"{idle.ip}:22", f"{rdp.ip}:22"])


def test_scanner_resolves_every_host_mac(lab: Lab) -> None:
    others = [h for h in lab.hosts if h.namespace != lab.scanner_ns]
    lab.probe_tcp([f"{h.ip}:9" for h in others], timeout=1)  # any port: ARP happens first
    neigh = {e["dst"]: e.get("lladdr") for e in _ip_json("-n", lab.scanner_ns, "neigh", "show", "dev", "eth0")}
    assert {h.ip: neigh.get(h.ip) for h in others} == {h.ip: h.mac for h in others}


@pytest.mark.parametrize("name", ["snmp-public", "snmp-private"])
def test_snmp_answers_only_its_community(lab: Lab, name: str) -> None:
    host = lab.host(name)
    assert lab.snmp_get(host, "1.3.6.1.2.1.1.5.0") == f'"{host.facts["sys_name"]}"'
    if host.facts["snmp_community"] != "public":
        assert lab.snmp_get(host, "1.3.6.1.2.1.1.5.0", community="public") is None


@pytest.mark.parametrize("name", ["exch2016", "exchse"])
def test_exchange_owa_surface(lab: Lab, name: str) -> None:
    host: Host = lab.host(name)
    build, cu = host.facts["exchange_build"], host.facts["owa_path_build"]
    base = f"https://{host.ip}"

    status, headers, _ = _fetch(lab, f"http://{host.ip}/owa/")
    assert (status, _header(headers, "location")) == (302, [f"{base}/owa/"])

    status, headers, _ = _fetch(lab, f"{base}/owa/")
    assert status == 302
    assert _header(headers, "location") == [f"{base}/owa/auth/logon.aspx?url=https%3a%2f%2f{host.ip}%2fowa%2f&reason=0"]
    assert _header(headers, "x-owa-version") == [build]
    assert _header(headers, "x-feserver") == [host.facts["fe_server"]]
    assert _header(headers, "server") == ["Microsoft-IIS/10.0"]

    status, _, body = _fetch(lab, f"{base}/owa/auth/logon.aspx?url=x&reason=0")
    assert status == 200
    assert f"/owa/auth/{cu}/themes/resources/favicon.ico" in body
    assert "<title>Outlook</title>" in body

    tool = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
    status, _, body = _fetch(lab, base + tool)
    assert status == 200
    assert f'name="microsoft.exchange.ediscovery.exporttool.application" version="{build}"' in body

    for path in ("/autodiscover/autodiscover.xml", "/EWS/Exchange.asmx"):
        status, headers, body = _fetch(lab, base + path)
        assert status == 401
        assert _header(headers, "www-authenticate") == [
            "Negotiate",
            "NTLM",
            f'Basic realm="{host.facts["basic_realm"]}"',
        ]
        assert _header(headers, "x-owa-version") == [build]
        assert body == ""

    type1 = "Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="
    status, headers, _ = _fetch(lab, f"{base}/EWS/Exchange.asmx", type1)
    (challenge,) = _header(headers, "www-authenticate")
    assert status == 401
    assert challenge.startswith("NTLM TlRMTVNTUAACAAAA")  # "NTLMSSP\0" + type 2


def test_legacy_tls_host_negotiates_tls10_with_an_expired_cert(lab: Lab) -> None:
    host = lab.host("tls-legacy")
    proc = subprocess.run(
        lab.exec_argv(["openssl", "s_client", "-connect", f"{host.ip}:443", "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
        input="",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "Protocol  : TLSv1\n" in proc.stdout, proc.stdout + proc.stderr
    assert "certificate has expired" in proc.stdout + proc.stderr


def test_down_ends_every_process_it_started_and_deletes_namespaces() -> None:
    """A second, small lab: samba-dcerpcd (which daemonizes) must not outlive ``down()``."""
    require_lab()
    mini = Lab(prefix=f"dct{os.getpid() % 100000}", hosts=["smb1", "telnet"])
    with mini:
        smb = mini.host("smb1")
        subprocess.run(mini.exec_argv(["smbclient", "-N", "-L", f"//{smb.ip}"]), capture_output=True, timeout=30)
        inside = {pid for ns in mini.namespaces for pid in netns.pids(ns)}
        assert len(inside) > len(mini.processes)  # smbd children, samba-dcerpcd, rpcd_* helpers
    assert not [ns for ns in netns.existing() if ns.startswith(mini.prefix + "-")]
    assert not [pid for pid in inside if os.path.exists(f"/proc/{pid}") and _not_zombie(pid)]


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
