"""Stream URL validation.

FFmpeg treats anything shaped like ``name:`` as a protocol, and several of its
pseudo-protocols (``concat:``, ``subfile:``, ``pipe:``, ``data:``, ``tee:``,
``crypto:``, ``async:`` ...) read local files or file descriptors in ways an
operator who types a stream URL does not expect. So livewatch accepts only the
live-streaming schemes and plain local paths, and tells FFmpeg (via
``protocol_whitelist``) which protocols each kind of source may use, so a
playlist cannot pull a source somewhere else either.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from events import SourceError

NETWORK_SCHEMES = frozenset({"rtmp", "rtmps", "rtsp", "rtsps", "http", "https", "srt"})

# Protocols FFmpeg may use underneath each scheme (HLS playlists open segments over
# http/https, optionally AES-decrypted by ``crypto``; RTSP carries RTP over UDP or TCP).
_WHITELIST = {
    "rtmp": "rtmp,tcp",
    "rtmps": "rtmps,rtmp,tcp,tls",
    "rtsp": "rtsp,rtp,udp,tcp",
    "rtsps": "rtsps,rtsp,rtp,udp,tcp,tls,srtp",
    "http": "http,https,tcp,tls,crypto,httpproxy",
    "https": "http,https,tcp,tls,crypto,httpproxy",
    "srt": "srt,udp",
    "": "file,crypto",
}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_source(url: str) -> str:
    """Return the source in the form livewatch opens it, or raise ``SourceError``.

    Network URLs (rtmp(s), rtsp(s), http(s) for HLS/HTTP-FLV, srt) are returned
    as given; local paths (and ``file:///abs/path``) come back absolute, so
    FFmpeg can never read a leading ``name:`` as a protocol.
    """
    if not isinstance(url, str) or not url.strip():
        raise SourceError("empty stream source: give a stream URL (rtmp://, rtsp://, http(s)://, srt://) or a video file path")
    url = url.strip()
    if _CONTROL.search(url):
        raise SourceError(f"{_show(url)}: control characters in the source; give a plain URL or file path")
    match = _SCHEME.match(url)
    if match and url[match.end() :].startswith("//"):
        scheme = match.group(1).lower()
        if scheme == "file":
            return _file_url(url)
        if scheme not in NETWORK_SCHEMES:
            raise SourceError(
                f"{_show(url)}: unsupported scheme {scheme!r}; use rtmp(s)://, rtsp(s)://, http(s)://, srt:// or a local file path"
            )
        if not urlsplit(url).hostname:
            raise SourceError(f"{_show(url)}: no host in the URL; use e.g. {scheme}://host:port/path")
        return url
    if match:
        raise SourceError(
            f"{_show(url)}: looks like an FFmpeg pseudo-protocol ({match.group(1)}:), which livewatch does not open; "
            "give a stream URL, or write a local file with a colon as ./name"
        )
    return os.path.abspath(url)


def _file_url(url: str) -> str:
    """``file:///abs/path`` -> ``/abs/path``; refuses hosts and ``..`` segments."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise SourceError(f"{_show(url)}: remote or relative file URL; use file:///absolute/path for a file on this machine")
    if ".." in parts.path.split("/") or parts.query or parts.fragment:
        raise SourceError(f"{_show(url)}: '..', '?' or '#' in a file URL; give the plain absolute path instead")
    return os.path.normpath(parts.path)


def is_network(source: str) -> bool:
    """True for sources validated as network URLs (they may drop and come back)."""
    match = _SCHEME.match(source)
    return match is not None and match.group(1).lower() in NETWORK_SCHEMES


def protocol_whitelist(source: str) -> str:
    """The FFmpeg protocols a validated source may open (its ``protocol_whitelist``)."""
    match = _SCHEME.match(source)
    return _WHITELIST[match.group(1).lower() if match and is_network(source) else ""]


def redact(url: str) -> str:
    """The URL without user:password, for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, "***@" + netloc, parts.path, parts.query, parts.fragment))


def _show(url: str, limit: int = 80) -> str:
    """A quoted, redacted, length-capped form of the source for one-line errors."""
    text = redact(url)
    return repr(text if len(text) <= limit else text[:limit] + "...")
