import functools
import http.server
import threading

import pytest

from ann_bench.data import fetch, get_variant
from ann_bench.data.fetch import download, find_local
from ann_bench.errors import ConfigError, DataError

from movielens_fixtures import variant_for, write_release, zip_release


@pytest.fixture
def release(tmp_path):
    folder = write_release(tmp_path / "src", "csv")
    return folder, zip_release(folder)


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on loopback serving files from a folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_local_archive_verified(release, tmp_path):
    folder, archive = release
    v = variant_for(archive, "csv")
    src = fetch(v, cache_dir=tmp_path / "cache", source=archive, progress=False)
    assert src.provenance["verified"] and src.provenance["sha256"] == v.sha256
    assert src.read_bytes("ratings.csv").startswith(b"userId,movieId")


def test_archive_in_cache_is_found_without_download(release, tmp_path):
    _, archive = release
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / archive.name).write_bytes(archive.read_bytes())
    src = fetch(variant_for(archive, "csv"), cache_dir=cache, download_ok=False)
    assert src.provenance["origin"] == "cache"


def test_extracted_folder_is_accepted_and_marked_unverified(release, tmp_path):
    folder, archive = release
    src = fetch(variant_for(archive, "csv"), cache_dir=tmp_path / "cache", source=folder.parent)
    assert src.provenance["kind"] == "folder" and src.provenance["verified"] is False
    assert find_local(variant_for(archive, "csv"), [folder]) == folder


def test_checksum_mismatch_is_refused(release, tmp_path):
    _, archive = release
    v = variant_for(archive, "csv", sha256="f" * 64)
    with pytest.raises(DataError, match="checksum mismatch.*expected f+"):
        fetch(v, cache_dir=tmp_path / "cache", source=archive)
    # --no-verify uses it anyway, and says so
    assert fetch(v, cache_dir=tmp_path / "cache", source=archive, verify=False).provenance["verified"] is False


def test_offline_error_says_where_to_put_the_archive(release, tmp_path):
    _, archive = release
    v = variant_for(archive, "csv", base_url="http://127.0.0.1:1/")  # nothing listens on port 1
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=rf"could not download .*put it .* in {cache}"):
        fetch(v, cache_dir=cache, progress=False)
    assert not list(cache.glob("*.zip*")), "a failed download must leave nothing behind"


def test_download_over_http_is_verified_and_atomic(release, tmp_path, http_root):
    _, archive = release
    root, url = http_root
    (root / archive.name).write_bytes(archive.read_bytes())
    cache = tmp_path / "cache"
    src = fetch(variant_for(archive, "csv", base_url=url), cache_dir=cache, progress=False)
    assert src.provenance["origin"] == "download" and src.provenance["verified"]
    assert (cache / archive.name).read_bytes() == archive.read_bytes()
    assert not list(cache.glob("*.part"))


def test_corrupt_download_is_discarded(release, tmp_path, http_root):
    _, archive = release
    root, url = http_root
    (root / archive.name).write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="download was discarded"):
        download(variant_for(archive, "csv", base_url=url), cache, progress=False)
    assert not list(cache.glob("*.zip*"))


def test_missing_source_and_unknown_variant_are_clear(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        fetch(get_variant("ml-100k"), cache_dir=tmp_path, source=tmp_path / "nope.zip")
    with pytest.raises(DataError, match="holds no ml-100k release"):
        fetch(get_variant("ml-100k"), cache_dir=tmp_path, source=tmp_path)
    with pytest.raises(ConfigError, match="Did you mean 'ml-1m'"):
        get_variant("ml-1mm")


def test_shared_copies_match_official_checksums(shared_movielens, tmp_path):
    src = fetch(get_variant("ml-latest-small"), cache_dir=tmp_path, source=shared_movielens / "ml-latest-small" / "ml-latest-small.zip")
    assert src.provenance["verified"] is True
    folder = fetch(get_variant("ml-100k"), cache_dir=tmp_path, source=shared_movielens / "ml-100k")
    assert folder.provenance["kind"] == "folder" and folder.has("u.item")
