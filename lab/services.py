"""One builder per daemon: write its config into the host's work dir, return how to run it.

Every daemon runs in the foreground with all of its state (config, pid file, logs, sockets, samba's
private/lock/state/cache dirs…) under ``workdir``. Option names were checked against the Debian 12
packages (xrdp 0.9.21, samba 4.17, vsftpd 3.0.3, openbsd-inetd 0.20221205, net-snmp 5.9.3,
redis 7.0, tigervnc 1.12, openssh 9.2, memcached 1.6.18).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from duecare.lab import certs, web
from duecare.lab.daemon import Daemon
from duecare.lab.hosts import Host

Builder = Callable[[Host, Path], Daemon]


def port_of(host: Host, key: str, standard: int) -> int:
    """The daemon's port: its standard one, or the host spec's ``<key>_port`` (a service moved off it)."""
    return int(host.facts.get(f"{key}_port", standard))


TARPIT = Path(__file__).resolve().parent / "tarpit.py"
SAMBA_LOG_DIR = "/var/log/samba"
XKB_DIR = "/var/lib/xkb"


def xrdp(host: Host, workdir: Path) -> Daemon:
    """xrdp answering the X.224/RDP negotiation; no xrdp-sesman (nobody logs in)."""
    layer = host.facts["rdp_security_layer"]
    port = port_of(host, "xrdp", 3389)
    cert_lines = "certificate=\nkey_file=\n"
    if layer == "tls":
        tls = certs.self_signed(workdir / "tls", host.hostname, dns_names=(host.hostname,))
        cert_lines = f"certificate={tls.cert}\nkey_file={tls.key}\n"
    ini = workdir / "xrdp.ini"
    # rsakeys.ini (standard RDP security) is read from the compiled-in /etc/xrdp; read-only use.
    ini.write_text(
        f"[Globals]\nini_version=1\nfork=true\nport={port}\ntcp_nodelay=true\n"
        f"security_layer={layer}\ncrypt_level=high\n{cert_lines}ssl_protocols=TLSv1.2, TLSv1.3\n"
        "allow_channels=true\nmax_bpp=32\n\n"
        f"[Logging]\nLogFile={workdir / 'xrdp.log'}\nLogLevel=INFO\nEnableSyslog=false\n"
        "EnableConsole=false\n\n[Channels]\nrdpdr=true\nrdpsnd=true\ncliprdr=true\n"
    )
    # --nodaemon writes no pid file; the private /run catches anything under /run/xrdp.
    return Daemon(
        "xrdp",
        ["xrdp", "--nodaemon", "--config", str(ini)],
        tcp_ports=(port,),
        logs=(workdir / "xrdp.log",),
        private_run=True,
    )


def smbd(host: Host, workdir: Path) -> Daemon:
    f = host.facts
    dirs = {k: workdir / k for k in ("private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "log")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    smb1 = f["smb_min_protocol"] == "NT1"
    share = workdir / "share"
    share.mkdir(exist_ok=True)
    (share / "README.txt").write_text(f"{host.hostname} public share\n")
    ports = host.tcp_ports
    lines = [
        "[global]",
        f"workgroup = {f['workgroup']}",
        f"netbios name = {f['netbios_name']}",
        f"server string = {host.hostname} file server",
        "server role = standalone server",
        "security = user",
        f"server min protocol = {f['smb_min_protocol']}",
        f"server signing = {f['smb_signing']}",
        f"smb ports = {' '.join(str(p) for p in sorted(ports, reverse=True))}",
        # No nmbd/winbindd is started; NetBIOS name service stays off, printing off.
        "disable netbios = yes",
        "load printers = no",
        "printing = bsd",
        "printcap name = /dev/null",
        "disable spoolss = yes",
        f"map to guest = {'bad user' if smb1 else 'never'}",
        "guest account = nobody",
        f"restrict anonymous = {0 if smb1 else 2}",
        f"private dir = {dirs['private']}",
        f"lock directory = {dirs['lock']}",
        f"state directory = {dirs['state']}",
        f"cache directory = {dirs['cache']}",
        f"pid directory = {dirs['pid']}",
        f"ncalrpc dir = {dirs['ncalrpc']}",
        f"binddns dir = {dirs['binddns']}",
        f"passdb backend = tdbsam:{dirs['private'] / 'passdb.tdb'}",
        f"log file = {dirs['log'] / 'smbd.log'}",
        "max log size = 0",
        "",
        f"[{f.get('guest_share', 'data')}]",
        f"path = {share}",
        "read only = yes",
        "browseable = yes",
        f"guest ok = {'yes' if smb1 else 'no'}",
    ]
    conf = workdir / "smb.conf"
    conf.write_text("\n".join(lines) + "\n")
    # smbd starts samba-dcerpcd on demand (it daemonizes; the lab's namespace sweep ends it), and the
    # rpcd_* helpers log to the compiled-in /var/log/samba whatever smb.conf says: bind our log dir there.
    binds = ((dirs["log"], SAMBA_LOG_DIR),) if Path(SAMBA_LOG_DIR).is_dir() else ()
    return Daemon(
        "smbd",
        ["smbd", "--foreground", "--no-process-group", "--debug-stdout", f"--configfile={conf}"],
        tcp_ports=ports,
        logs=(dirs["log"] / "smbd.log",),
        private_run=True,
        bind_mounts=binds,
    )


def vsftpd(host: Host, workdir: Path) -> Daemon:
    anon = "anonymous" in host.tags
    anon_root, empty = workdir / "anon", workdir / "empty"
    for d in (anon_root, empty):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    (anon_root / "README.txt").write_text("Public files. Contact it@lab.local\n")
    # vsftpd refuses every session ("500 OOPS: both local and anonymous access disabled") when both
    # are off, so the no-anonymous host allows local users (via PAM), the Debian default.
    access = (
        f"anonymous_enable=YES\nlocal_enable=NO\nno_anon_password=YES\nanon_root={anon_root}\n"
        if anon
        else "anonymous_enable=NO\nlocal_enable=YES\npam_service_name=vsftpd\n"
    )
    conf = workdir / "vsftpd.conf"
    port = port_of(host, "ftp", 21)
    conf.write_text(
        f"listen=YES\nlisten_ipv6=NO\nlisten_address={host.ip}\nlisten_port={port}\nbackground=NO\n"
        f"{access}write_enable=NO\n"
        f"secure_chroot_dir={empty}\nxferlog_enable=YES\nxferlog_file={workdir / 'xferlog'}\n"
        f"vsftpd_log_file={workdir / 'vsftpd.log'}\ndual_log_enable=YES\nsyslog_enable=NO\n"
        f"ftpd_banner=({host.hostname}) FTP service ready.\n"
    )
    return Daemon("vsftpd", ["vsftpd", str(conf)], tcp_ports=(port,), logs=(workdir / "vsftpd.log",))


def inetd(host: Host, workdir: Path) -> Daemon:
    """openbsd-inetd spawning inetutils telnetd. ``-i`` keeps it in the foreground, ``-d`` logs to
    stderr; its pid file (/run/inetd.pid) and the session's utmp entry land in the private /run."""
    conf = workdir / "inetd.conf"
    port = port_of(host, "telnet", 23)
    service = "telnet" if port == 23 else str(port)
    conf.write_text(f"{host.ip}:{service}\tstream\ttcp4\tnowait\troot\t/usr/sbin/telnetd\ttelnetd\n")
    # telnetd appends session records to the compiled-in /var/log/wtmp: give it an empty /var/log.
    varlog = workdir / "var-log"
    varlog.mkdir(exist_ok=True)
    return Daemon(
        "inetd",
        ["inetd", "-i", "-d", str(conf)],
        tcp_ports=(port,),
        private_run=True,
        bind_mounts=((varlog, "/var/log"),),
    )


def snmpd(host: Host, workdir: Path) -> Daemon:
    persist = workdir / "persist"
    persist.mkdir(parents=True, exist_ok=True)
    conf = workdir / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:{host.ip}:161\n"
        f"rocommunity {host.facts['snmp_community']} default\n"
        f"sysName {host.facts['sys_name']}\n"
        f"sysDescr {host.hostname} network printer (duecare lab)\n"
        "sysLocation Lab, 2nd floor copy room\nsysContact it@lab.local\nsysServices 72\n"
    )
    # -C: no default config files; -f/-Lo: foreground, log to stdout; SNMP_PERSISTENT_DIR keeps
    # snmpd's persistent state out of /var/lib/snmp.
    return Daemon(
        "snmpd",
        # -I -smux…: as Debian's snmpd.service, so no SMUX listener opens tcp/199.
        [
            "snmpd",
            "-f",
            "-Lo",
            "-C",
            "-c",
            str(conf),
            "-p",
            str(workdir / "snmpd.pid"),
            "-I",
            "-smux,mteTrigger,mteTriggerConf",
        ],
        udp_ports=(161,),
        env={"SNMP_PERSISTENT_DIR": str(persist)},
    )


def redis(host: Host, workdir: Path) -> Daemon:
    port = port_of(host, "redis", 6379)
    argv = [
        "redis-server",
        "--bind",
        host.ip,
        "--port",
        str(port),
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--logfile",
        "",
        "--protected-mode",
        "no",
    ]
    if "redis_password" in host.facts:
        argv += ["--requirepass", host.facts["redis_password"]]
    return Daemon("redis", argv, tcp_ports=(port,))


# TigerVNC counts every unauthenticated connection per source and never forgets (Blacklist.cxx): a
# lab scanned dozens of times in one session would lock its scanner out with doubling timeouts
# (10 s, 20 s, 40 s...) and turn the password host indeterminate at random. A zero timeout lets
# every connection through; the blacklist itself is exercised against an Xvnc with the defaults
# (tests/probes/vnc/test_xvnc_blacklist.py), which also checks this setting.
XVNC_LAB_BLACKLIST = ("-BlacklistTimeout", "0")


def xvnc(host: Host, workdir: Path) -> Daemon:
    """Xvnc with no X listeners at all: ``-nolock`` and ``-nolisten unix`` leave /tmp alone (no
    /tmp/.X<n>-lock or /tmp/.X11-unix/X<n>), and the abstract X socket is per network namespace."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    # RFB display N listens on 5900 + N (RFC 6143 §1.1 leaves the port to the server; every VNC server does this).
    display = int(host.facts.get("vnc_display", "0"))
    port = 5900 + display
    argv = [
        "Xvnc",
        f":{display or host.octet}",
        "-rfbport",
        str(port),
        "-interface",
        host.ip,
        "-nolock",
        "-nolisten",
        "tcp",
        "-nolisten",
        "unix",
        "-desktop",
        host.hostname,
        "-geometry",
        "1024x768",
        "-depth",
        "24",
    ]
    if host.facts["vnc_security"] == "VncAuth":
        pw = workdir / "passwd"
        out = subprocess.run(
            ["vncpasswd", "-f"], input=host.facts["vnc_password"].encode(), capture_output=True, check=True
        ).stdout
        pw.write_bytes(out)
        pw.chmod(0o600)
        argv += ["-SecurityTypes", "VncAuth", "-PasswordFile", str(pw)]
        argv += list(XVNC_LAB_BLACKLIST)
    else:
        argv += ["-SecurityTypes", "None"]
    env = {"HOME": str(home), "XAUTHORITY": str(home / ".Xauthority")}
    # The X server compiles its keymap into the compiled-in /var/lib/xkb; keep that in the work dir.
    xkb = workdir / "xkb"
    xkb.mkdir(exist_ok=True)
    binds = ((xkb, XKB_DIR),) if Path(XKB_DIR).is_dir() else ()
    return Daemon("Xvnc", argv, tcp_ports=(port,), env=env, bind_mounts=binds)


def sshd(host: Host, workdir: Path) -> Daemon:
    key = certs.ssh_host_key(workdir / "ssh_host_ed25519_key")
    conf = workdir / "sshd_config"
    conf.write_text(
        f"Port 22\nListenAddress {host.ip}\nHostKey {key}\nPidFile {workdir / 'sshd.pid'}\n"
        "UsePAM no\nPermitRootLogin no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        "AuthorizedKeysFile none\nPrintMotd no\n"
    )
    # /run/sshd (privilege separation dir) is compiled in: create it in the private /run.
    return Daemon(
        "sshd",
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)],
        tcp_ports=(22,),
        private_run=True,
        run_dirs=("/run/sshd",),
    )


def tarpit(host: Host, workdir: Path) -> Daemon:
    ports = ",".join(str(p) for p in host.tcp_ports)
    return Daemon(
        "tarpit", [sys.executable, str(TARPIT), "--host", host.ip, "--ports", ports], tcp_ports=host.tcp_ports
    )


def memcached(host: Host, workdir: Path) -> Daemon:
    # memcached refuses to run as root without -u; nobody is enough for a cache.
    argv = ["memcached", "-l", host.ip, "-p", "11211", "-U", "0", "-u", "nobody", "-v"]
    return Daemon("memcached", argv, tcp_ports=(11211,))


SERVICES: dict[str, Builder] = {
    "xrdp": xrdp,
    "smbd": smbd,
    "owa": web.owa,
    "legacy_tls": web.legacy_tls,
    "web": web.web,
    "vsftpd": vsftpd,
    "inetd": inetd,
    "snmpd": snmpd,
    "redis": redis,
    "xvnc": xvnc,
    "sshd": sshd,
    "tarpit": tarpit,
    "memcached": memcached,
}

# Binaries the lab needs on PATH (checked by lab_available()).
BINARIES = (
    "ip",
    "unshare",
    "nft",
    "xrdp",
    "smbd",
    "nginx",
    "vsftpd",
    "inetd",
    "telnetd",
    "snmpd",
    "snmpget",
    "redis-server",
    "Xvnc",
    "vncpasswd",
    "sshd",
    "memcached",
)
