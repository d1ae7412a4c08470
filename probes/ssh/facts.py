"""What an SSH server tells any client before authentication (RFC 4253 §4.2, §7, §8)."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts

_Names = tuple[str, ...]


class SshFacts(Facts):
    #: The identification line as sent, without CR LF: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".
    identification: str = Field(max_length=255)
    proto_version: str = Field(max_length=16)
    #: softwareversion of RFC 4253 §4.2 ("OpenSSH_9.2p1"), and the comments after it, if any.
    software: str = Field(max_length=255)
    comments: str = Field(default="", max_length=255)
    #: Lines the server sent before its identification (allowed by §4.2; some servers greet there).
    pre_lines: tuple[str, ...] = ()
    #: The server's SSH_MSG_KEXINIT name-lists, in its order of preference.
    kex_algorithms: _Names = ()
    host_key_algorithms: _Names = ()
    ciphers: _Names = ()
    macs: _Names = ()
    compression: _Names = ()
    #: The key exchange we ran to obtain the host key; None when the server offers none we speak.
    kex_used: str | None = Field(default=None, max_length=64)
    #: The host key's type as named in its blob ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"…).
    host_key_type: str | None = Field(default=None, max_length=64)
    #: OpenSSH's form, as ``ssh-keygen -l`` prints it: "SHA256:" + base64 without padding.
    host_key_fingerprint: str | None = Field(default=None, max_length=64)
    #: The same SHA-256 in lower-case hex: the value the inside/outside join compares.
    host_key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
