"""``ann-bench data``: list, fetch and prepare MovieLens variants."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import paths
from .options import at_least, between, fraction


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("variant", help="MovieLens variant, e.g. ml-latest-small (see `ann-bench data variants`)")
    p.add_argument("--source", type=Path, help="a local archive (.zip) or extracted folder to use instead of downloading")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading when no local copy exists")
    p.add_argument("--no-verify", action="store_true", help="use an archive whose checksum does not match (recorded as unverified)")


def add_prep_args(p: argparse.ArgumentParser) -> None:
    from ..data import PrepConfig
    from ..data.parse import RATING_SCALE

    d = PrepConfig()
    g = p.add_argument_group("preprocessing")
    g.add_argument("--min-rating", type=between(*RATING_SCALE), default=d.min_rating, help="ratings >= this are positives (default %(default)s)")
    g.add_argument("--user-core", type=at_least(1), default=d.user_core, help="k-core: min positives per user (default %(default)s)")
    g.add_argument("--item-core", type=at_least(1), default=d.item_core, help="k-core: min positives per item (default %(default)s)")
    g.add_argument("--split", choices=("ratio", "loo", "time"), default=d.split,
                   help="ratio: last 20%%/10%% of each user's positives are test/validation; loo: last one; "
                        "time: global date cutoffs (default %(default)s)")
    g.add_argument("--val-frac", type=fraction, default=d.val_frac)
    g.add_argument("--test-frac", type=fraction, default=d.test_frac)
    g.add_argument("--val-start", help="--split time: first validation date (YYYY-MM-DD; default the 80%% time quantile)")
    g.add_argument("--test-start", help="--split time: first test date (default the 90%% time quantile)")
    g.add_argument("--force", action="store_true", help="redo the work even if its output exists (the prepared split; with train, the model too)")


def prepared(args):
    from ..data import PrepConfig, get_variant
    from ..data.store import load_or_prepare

    cfg = PrepConfig(
        min_rating=args.min_rating, user_core=args.user_core, item_core=args.item_core, split=args.split,
        val_frac=args.val_frac, test_frac=args.test_frac, val_start=args.val_start, test_start=args.test_start,
    )
    return load_or_prepare(
        get_variant(args.variant), cfg, root=paths.prepared_dir(), cache_dir=paths.movielens_dir(),
        source=args.source, download_ok=not args.no_download, verify=not args.no_verify, force=args.force,
    )


def cmd_data_variants(args) -> None:
    from ..data import VARIANTS

    for v in VARIANTS.values():
        size = f"{v.size / 1e6:.1f} MB" if v.size else "size unpublished"
        print(f"{v.name:16} {v.layout:5} {size:18} {v.url}")


def cmd_data_fetch(args) -> None:
    from ..data import fetch, get_variant

    src = fetch(get_variant(args.variant), cache_dir=paths.movielens_dir(), source=args.source,
                download_ok=not args.no_download, verify=not args.no_verify)
    print(json.dumps(src.provenance, indent=2))


def cmd_data_prepare(args) -> None:
    from ..data import summary_table

    p, path = prepared(args)
    print(summary_table(p.summary))
    print(f"wrote {path}")


def register(sub) -> None:
    data = sub.add_parser("data", help="MovieLens: list, fetch, prepare").add_subparsers(dest="data_command", required=True)
    data.add_parser("variants", help="list the MovieLens variants").set_defaults(func=cmd_data_variants)
    f = data.add_parser("fetch", help="download (or locate) and verify a variant")
    add_source_args(f)
    f.set_defaults(func=cmd_data_fetch)
    pr = data.add_parser("prepare", help="threshold, k-core and split a variant")
    add_source_args(pr)
    add_prep_args(pr)
    pr.set_defaults(func=cmd_data_prepare)
