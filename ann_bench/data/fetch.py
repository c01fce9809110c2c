"""Get a MovieLens variant: a local archive or folder if there is one, else download it.

A download goes to ``<name>.zip.part``, is hashed while it streams and only renamed to
``<name>.zip`` once the checksum matches, so a partial or corrupt download never looks
complete. Archives are read in place (no extraction).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import NO_ROOM, NOT_ALLOWED, DataError, write_error
from .variants import CITATION, LICENSE, Variant

_CHUNK = 1 << 20


@dataclass
class Source:
    """A MovieLens release on disk, as a zip archive or an extracted folder."""

    variant: Variant
    path: Path
    provenance: dict = field(default_factory=dict)

    @property
    def is_zip(self) -> bool:
        return self.path.is_file()

    def _folder(self) -> Path:
        """The folder holding the data files (the path itself or its inner release folder)."""
        for cand in (self.path, self.path / self.variant.folder, self.path / self.variant.name):
            if (cand / self.variant.ratings_file).is_file():
                return cand
        raise DataError(f"{self.path} has no {self.variant.ratings_file}: not a {self.variant.name} folder.")

    def _member(self, zf: zipfile.ZipFile, name: str) -> str | None:
        for cand in (f"{self.variant.folder}/{name}", name):
            if cand in zf.namelist():
                return cand
        return None

    def has(self, name: str) -> bool:
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return self._member(zf, name) is not None
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(f"{self.path} is not a readable zip archive ({exc}); delete it and fetch again.") from None
        return (self._folder() / name).is_file()

    def read_bytes(self, name: str) -> bytes:
        """The bytes of one file of the release (``ratings.csv``, ``u.item``, ...)."""
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    member = self._member(zf, name)
                    if member is None:
                        raise DataError(f"{self.path} has no {name}: not a {self.variant.name} archive.")
                    return zf.read(member)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise DataError(f"{self.path} is corrupt ({name}: {exc}); delete it and fetch again "
                                "(it was used unverified, or changed after it was verified).") from None
        path = self._folder() / name
        if not path.is_file():
            raise DataError(f"{path} is missing from the {self.variant.name} folder {self.path}.")
        return path.read_bytes()


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(variant: Variant) -> tuple[str, str]:
    return ("sha256", variant.sha256) if variant.sha256 else ("md5", variant.md5)


def verify_archive(variant: Variant, path: Path) -> str:
    """Check an archive against the published checksum; return the digest or raise."""
    algo, want = _expected(variant)
    got = file_digest(path, algo)
    if got != want:
        raise DataError(
            f"checksum mismatch for {path}: {algo} {got}, expected {want} for {variant.name}. "
            f"The file is corrupt or a different release; delete it and fetch again "
            f"(or pass --no-verify to use it anyway)."
        )
    return got


def find_local(variant: Variant, search_dirs: list[Path]) -> Path | None:
    """The first archive or folder of ``variant`` in ``search_dirs``, else None."""
    for d in search_dirs:
        for cand in (
            d,
            d / variant.archive,
            d / variant.name / variant.archive,
            d / variant.name,
            d / variant.folder,
        ):
            if cand != d and cand.is_file():
                if zipfile.is_zipfile(cand):
                    return cand
                if cand.name == variant.archive:  # the archive is there, but broken: say so
                    raise DataError(f"{cand} is not a readable zip archive (a truncated or corrupt download?); "
                                    "delete it and fetch again, or put the extracted folder there instead.")
            if cand.is_dir() and any(
                (c / variant.ratings_file).is_file() for c in (cand, cand / variant.folder)
            ):
                return cand
    return None


def download(variant: Variant, dest_dir: Path, *, progress: bool = True, timeout: float = 60) -> Path:
    """Download ``variant`` into ``dest_dir`` atomically, verifying its checksum as it streams."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / variant.archive
    part = dest_dir / (variant.archive + ".part")
    algo, want = _expected(variant)
    h = hashlib.new(algo)
    try:
        with urllib.request.urlopen(variant.url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or variant.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=variant.archive, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        with contextlib.suppress(OSError):  # a read-only disk refuses even this
            part.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in NO_ROOM | NOT_ALLOWED:  # our disk, not the network
            raise write_error(final, exc) from None
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"could not download {variant.url} ({reason}). If this machine is offline, download "
            f"{variant.archive} elsewhere and put it (or its extracted folder) in {dest_dir}/, "
            f"or pass --source PATH."
        ) from None
    got = h.hexdigest()
    if got != want:
        part.unlink(missing_ok=True)
        raise DataError(
            f"downloaded {variant.url} but its {algo} is {got}, expected {want}; the download "
            f"was discarded. Try again; if it persists, the release changed upstream."
        )
    os.replace(part, final)
    return final


def _note_license(variant: Variant, cache_dir: Path) -> None:
    """Print the license and citation the first time a variant is fetched into this cache."""
    marker = cache_dir / f".{variant.name}.license-shown"
    if marker.exists():
        return
    print(LICENSE, file=sys.stderr)
    print(CITATION, file=sys.stderr)
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()


def fetch(
    variant: Variant,
    *,
    cache_dir: Path,
    source: Path | None = None,
    download_ok: bool = True,
    verify: bool = True,
    progress: bool = True,
) -> Source:
    """Resolve ``variant`` to a verified :class:`Source`.

    Order: ``source`` if given, else an archive or folder already in ``cache_dir``, else a
    download into ``cache_dir``. Archives are checksum-verified; an extracted folder cannot
    be, and its provenance says so.
    """
    if source is not None:
        source = Path(source)
        if not source.exists():
            raise DataError(f"--source {source} does not exist.")
        path = source if source.is_file() else find_local(variant, [source])
        if path is None:
            raise DataError(
                f"--source {source} holds no {variant.name} release (looked for "
                f"{variant.archive}, a {variant.name}/ folder and {variant.ratings_file})."
            )
        origin = "given"
    else:
        path = find_local(variant, [cache_dir])
        origin = "cache"
        if path is None:
            if not download_ok:
                raise DataError(
                    f"{variant.name} is not in {cache_dir}/ and downloading is off. Put "
                    f"{variant.archive} (from {variant.url}) or its extracted folder there, "
                    f"or pass --source PATH."
                )
            path = download(variant, cache_dir, progress=progress)
            origin = "download"
    prov: dict = {"variant": variant.name, "path": str(path), "origin": origin, "url": variant.url}
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DataError(f"{path} is not a zip archive; expected {variant.archive} or its folder.")
        prov["kind"] = "zip"
        if verify:
            algo, _ = _expected(variant)
            prov[algo] = _verified_digest(variant, path)
            prov["verified"] = True
        else:
            prov["verified"] = False
    else:
        prov["kind"] = "folder"
        prov["verified"] = False  # an extracted folder has no published checksum
    src = Source(variant, path, prov)
    if not src.has(variant.ratings_file):
        raise DataError(f"{path} has no {variant.ratings_file}: not a {variant.name} release.")
    _note_license(variant, cache_dir)
    return src


def _verified_digest(variant: Variant, path: Path) -> str:
    """Verify once per (size, mtime) of the file; remember the result beside the archive."""
    stamp = path.with_name(path.name + ".verified")
    st = path.stat()
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if stamp.exists():
        try:
            saved = json.loads(stamp.read_text())
            if saved.get("key") == key and saved.get("expected") == _expected(variant)[1]:
                return saved["digest"]
        except (ValueError, KeyError):
            pass
    digest = verify_archive(variant, path)
    try:
        stamp.write_text(json.dumps({"key": key, "expected": _expected(variant)[1], "digest": digest}))
    except OSError:
        pass  # a read-only location (a shared copy): verify again next time
    return digest
