"""Fetch survey files over HTTP(S): streaming, retries with back-off, resume, manifest checks.

The only code in skyhunt that touches the network; it runs in the download
rules and nowhere else. A file is written to ``<dest>.part`` in chunks and
renamed to ``dest`` only after its size and checksum match the manifest, so a
crash, a dropped connection or a corrupt transfer never leaves a file under
the final name. An interrupted transfer resumes from the end of the
``.part`` file with an HTTP ``Range`` request; a server that ignores the
range (status 200) restarts the file from byte 0.

The manifest (YAML) lists, for each file name, its size in bytes and its
SHA-256 and/or MD5 digest::

    files:
      148_tsz_healpix.fits: {size: 3221233920, sha256: 5f0c..., md5: null}

A ``null`` digest or size is *unknown*: the file is then checked only
against what is known (and, always, against the server's
``Content-Length``), and a warning gives the line to record in the
manifest. ``python -m skyhunt.download FILE...`` prints those lines for files
already on disk.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger("skyhunt.download")

#: HTTP statuses worth retrying (temporary); every other error status fails at once.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be fetched, or what was fetched does not match its manifest entry."""


@dataclass(frozen=True)
class ManifestEntry:
    """Expected size and digests of one file; ``None`` means unknown.

    Parameters
    ----------
    size : int or None
        Size in bytes.
    sha256, md5 : str or None
        Lower-case hexadecimal digests.
    """

    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    @property
    def verifiable(self) -> bool:
        """True if a digest is known, i.e. corruption (not only truncation) is detectable."""
        return bool(self.sha256 or self.md5)


def load_manifest(path: str | os.PathLike) -> dict[str, ManifestEntry]:
    """Read a download manifest.

    Parameters
    ----------
    path : path-like
        YAML file with a ``files`` mapping of file name -> ``{size, sha256, md5}``.

    Returns
    -------
    dict
        File name -> :class:`ManifestEntry`.

    Raises
    ------
    DownloadError
        If the file is missing or malformed; the message names the file and entry.
    """
    path = Path(path)
    if not path.is_file():
        raise DownloadError(f"download manifest {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DownloadError(f"download manifest {path} is not valid YAML: {exc}") from exc
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict):
        raise DownloadError(f"download manifest {path}: expected a 'files' mapping of name -> entry")
    out = {}
    for name, entry in files.items():
        entry = entry or {}
        unknown = set(entry) - {"size", "sha256", "md5"}
        if unknown:
            raise DownloadError(
                f"download manifest {path}: entry {name!r} has unknown keys {sorted(unknown)}"
            )
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise DownloadError(f"download manifest {path}: {name}.size must be a byte count, got {size!r}")
        digests = {}
        for algo, length in (("sha256", 64), ("md5", 32)):
            value = entry.get(algo)
            if value is not None:
                value = str(value).lower()
                if len(value) != length or any(c not in "0123456789abcdef" for c in value):
                    raise DownloadError(
                        f"download manifest {path}: {name}.{algo} must be {length} hex digits, got {value!r}"
                    )
            digests[algo] = value
        out[str(name)] = ManifestEntry(size=size, **digests)
    return out


def file_digests(path: str | os.PathLike) -> tuple[int, str, str]:
    """Size in bytes, SHA-256 and MD5 (hex) of a file, read in 1 MiB chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def manifest_line(path: str | os.PathLike) -> str:
    """The manifest line (YAML) recording a file's size and digests."""
    return _manifest_line(Path(path).name, *file_digests(path))


def _manifest_line(name: str, size: int, sha256: str, md5: str) -> str:
    return f"  {name}: {{size: {size}, sha256: {sha256}, md5: {md5}}}"


def fetch(
    url: str,
    dest: str | os.PathLike,
    entry: ManifestEntry | None = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Download ``url`` to ``dest``, resuming and retrying, and verify it against ``entry``.

    Parameters
    ----------
    url : str
        http(s) URL.
    dest : path-like
        Final file name. The transfer goes to ``<dest>.part``; ``dest`` appears
        only once the file is complete and verified.
    entry : ManifestEntry, optional
        Expected size and digests (unknown ones are not checked).
    retries : int
        Attempts after the first one. A dropped connection, a timeout, a
        temporary HTTP status (:data:`RETRY_STATUSES`), a short file or a
        checksum mismatch each use one attempt; a dropped connection resumes
        where it stopped, a mismatch restarts from byte 0.
    backoff_s : float
        Wait before the first retry, seconds; doubled after every failure.
    timeout_s : float
        Socket timeout, seconds.
    sleep : callable
        Waits between attempts (replaceable in tests).

    Raises
    ------
    DownloadError
        If the server answers with a permanent error (e.g. 404; the message
        names the URL and status), or no attempt yields a complete, verified
        file. No file is left under ``dest`` or ``<dest>.part`` after a
        checksum failure.
    """
    entry = entry or ManifestEntry()
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.unlink()  # Snakemake asked for it again; never trust an old copy
    last_problem = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff_s * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, last_problem, attempt, retries, wait)
            sleep(wait)
        try:
            total = _transfer(url, part, entry, timeout_s)
        except _Permanent as exc:
            part.unlink(missing_ok=True)
            raise DownloadError(str(exc)) from None
        except (OSError, http.client.HTTPException, _Temporary) as exc:
            last_problem = f"transfer interrupted ({type(exc).__name__}: {exc})"
            continue
        have = part.stat().st_size
        if total is not None and have < total:
            last_problem = f"connection closed after {have} of {total} bytes"
            continue
        problem = _verify(part, entry, total)
        if problem:
            last_problem = problem
            part.unlink()  # corrupt, not short: resuming would keep the bad bytes
            continue
        os.replace(part, dest)
        log.info("downloaded %s -> %s (%d bytes)", url, dest, have)
        return
    part_note = f"; the partial file {part} is kept for a later resume" if part.exists() else ""
    raise DownloadError(f"could not download {url} after {retries + 1} attempts: {last_problem}{part_note}")


class _Permanent(Exception):
    pass


class _Temporary(Exception):
    pass


def run_download_sehgal2010(
    *, url: str, entry: dict, retries: int, backoff_s: float, timeout_s: float, dest
) -> None:
    """The ``download_sehgal2010`` rule: :func:`fetch` one simulation file against its manifest entry.

    Parameters
    ----------
    url : str
        http(s) URL of the file.
    entry : dict
        Its manifest entry (``size`` in bytes, ``sha256``, ``md5``; unknown ones are None).
    retries, backoff_s, timeout_s
        As for :func:`fetch` (config ``sky.sehgal2010``; seconds).
    dest : path-like
        Final file name.
    """
    fetch(url, dest, ManifestEntry(**entry), retries=retries, backoff_s=backoff_s, timeout_s=timeout_s)


def _transfer(url: str, part: Path, entry: ManifestEntry, timeout_s: float) -> int | None:
    """One HTTP request, appending to ``part``; return the file's total size if the server says."""
    have = part.stat().st_size if part.exists() else 0
    if entry.size is not None and have > entry.size:
        part.unlink()
        have = 0
    if entry.size is not None and have == entry.size:
        return entry.size  # complete from an earlier attempt; only verification is left
    request = urllib.request.Request(url, headers={"User-Agent": "skyhunt-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after our offset: restart cleanly
            part.unlink()
            raise _Temporary(f"HTTP 416 for a resume at byte {have}") from None
        if exc.code in RETRY_STATUSES:
            raise _Temporary(f"HTTP {exc.code} {exc.reason}") from None
        raise _Permanent(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        raise _Temporary(f"cannot reach {url}: {exc.reason}") from None
    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        if status == 206:
            offset, total = _content_range(response.headers.get("Content-Range"), url)
            if offset != have:
                part.unlink()
                raise _Temporary(f"server resumed at byte {offset}, not {have}")
            mode = "ab"
        elif status == 200:
            offset, total, mode = 0, int(length) if length is not None else None, "wb"
        else:
            raise _Permanent(f"unexpected HTTP status {status} for {url}")
        with open(part, mode) as f:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
    return total


def _content_range(value: str | None, url: str) -> tuple[int, int | None]:
    """(first byte, total size or None) from ``Content-Range: bytes a-b/total``."""
    malformed = _Permanent(f"malformed Content-Range {value!r} from {url}")
    try:
        unit, spec = value.split(" ", 1)
        span, total = spec.split("/", 1)
        first = int(span.split("-", 1)[0])
        size = None if total == "*" else int(total)
    except (AttributeError, ValueError):
        raise malformed from None
    if unit != "bytes":
        raise malformed
    return first, size


def _verify(part: Path, entry: ManifestEntry, total: int | None) -> str | None:
    """Return what is wrong with a complete transfer, or None if it matches the manifest."""
    size, sha, md5 = file_digests(part)
    if entry.size is not None and size != entry.size:
        return f"size {size} bytes, manifest says {entry.size}"
    if total is not None and size != total:
        return f"size {size} bytes, server announced {total}"
    for algo, want, got in (("sha256", entry.sha256, sha), ("md5", entry.md5, md5)):
        if want and want != got:
            return f"{algo} mismatch: got {got}, manifest says {want} (corrupt transfer or changed file)"
    if not entry.verifiable:
        name = part.name.removesuffix(".part")
        log.warning(
            "%s: the manifest records no checksum, so only the size was checked; "
            "after checking the file, record it in the manifest with this line:\n%s",
            name,
            _manifest_line(name, size, sha, md5),
        )
    return None


def main(argv: list[str] | None = None) -> None:
    """Print manifest lines for files on disk: ``python -m skyhunt.download FILE...``."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print(__doc__.split("\n\n")[0])
        print("usage: python -m skyhunt.download FILE...  (prints manifest lines)")
        return
    print("files:")
    for p in paths:
        print(manifest_line(p))


if __name__ == "__main__":
    main()
