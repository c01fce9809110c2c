"""The ``ann-bench`` command line. Errors the user can fix print one line, no traceback."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from . import paths
from .errors import AnnBenchError


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("variant", help="MovieLens variant, e.g. ml-latest-small (see `ann-bench data variants`)")
    p.add_argument("--source", type=Path, help="a local archive (.zip) or extracted folder to use instead of downloading")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading when no local copy exists")
    p.add_argument("--no-verify", action="store_true", help="use an archive whose checksum does not match (recorded as unverified)")


def _add_prep_args(p: argparse.ArgumentParser) -> None:
    from .data import PrepConfig

    d = PrepConfig()
    g = p.add_argument_group("preprocessing")
    g.add_argument("--min-rating", type=float, default=d.min_rating, help="ratings >= this are positives (default %(default)s)")
    g.add_argument("--user-core", type=int, default=d.user_core, help="k-core: min positives per user (default %(default)s)")
    g.add_argument("--item-core", type=int, default=d.item_core, help="k-core: min positives per item (default %(default)s)")
    g.add_argument("--split", choices=("ratio", "loo", "time"), default=d.split,
                   help="ratio: last 20%%/10%% of each user's positives are test/validation; loo: last one; "
                        "time: global date cutoffs (default %(default)s)")
    g.add_argument("--val-frac", type=float, default=d.val_frac)
    g.add_argument("--test-frac", type=float, default=d.test_frac)
    g.add_argument("--val-start", help="--split time: first validation date (YYYY-MM-DD; default the 80%% time quantile)")
    g.add_argument("--test-start", help="--split time: first test date (default the 90%% time quantile)")
    g.add_argument("--force", action="store_true", help="rebuild even if a prepared split with this config exists")


def _prepared(args):
    from .data import PrepConfig, get_variant
    from .data.store import load_or_prepare

    cfg = PrepConfig(
        min_rating=args.min_rating, user_core=args.user_core, item_core=args.item_core, split=args.split,
        val_frac=args.val_frac, test_frac=args.test_frac, val_start=args.val_start, test_start=args.test_start,
    )
    return load_or_prepare(
        get_variant(args.variant), cfg, root=paths.prepared_dir(), cache_dir=paths.movielens_dir(),
        source=args.source, download_ok=not args.no_download, verify=not args.no_verify, force=args.force,
    )


def cmd_data_variants(args) -> None:
    from .data import VARIANTS

    for v in VARIANTS.values():
        size = f"{v.size / 1e6:.1f} MB" if v.size else "size unpublished"
        print(f"{v.name:16} {v.layout:5} {size:18} {v.url}")


def cmd_data_fetch(args) -> None:
    from .data import fetch, get_variant

    src = fetch(get_variant(args.variant), cache_dir=paths.movielens_dir(), source=args.source,
                download_ok=not args.no_download, verify=not args.no_verify)
    print(json.dumps(src.provenance, indent=2))


def cmd_data_prepare(args) -> None:
    from .data import summary_table

    p, path = _prepared(args)
    print(summary_table(p.summary))
    print(f"wrote {path}")


def cmd_train(args) -> None:
    from .data import summary_table
    from .embeddings.model import TowerConfig
    from .embeddings.run import quality_table, train_and_evaluate
    from .embeddings.train import TrainConfig
    from .threads import set_threads

    set_threads(args.threads)
    p, path = _prepared(args)
    print(summary_table(p.summary))
    tower = TowerConfig(dim=args.dim, normalize=not args.no_normalize, title_words=not args.no_title_words,
                        user_ids=not args.no_user_ids)
    cfg = TrainConfig(tower=tower, max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      temperature=args.temperature[0], logq=not args.no_logq, uniform_negatives=args.uniform_negatives,
                      patience=args.patience, seed=args.seed)
    out, report = train_and_evaluate(p, path, cfg, paths.models_dir(), temperatures=tuple(args.temperature),
                                     baselines=not args.no_baselines, threads=args.threads)
    print(quality_table([report]))
    print(f"wrote {out}")


def cmd_models_table(args) -> None:
    from .embeddings.run import quality_table

    files = sorted(paths.models_dir().glob("*/metrics.json")) if not args.bundles else [Path(b) / "metrics.json" for b in args.bundles]
    if not files:
        raise AnnBenchError(f"no trained models under {paths.models_dir()}; run `ann-bench train VARIANT` first.")
    print(quality_table([json.loads(f.read_text()) for f in files]))


def _latest_bundle(variant: str) -> Path:
    bundles = sorted(paths.models_dir().glob(f"{variant}.*/embeddings.h5"), key=lambda f: f.stat().st_mtime)
    if not bundles:
        raise AnnBenchError(f"no trained model for {variant} under {paths.models_dir()}; run `ann-bench train {variant}` first.")
    return bundles[-1].parent


def cmd_workloads_build(args) -> None:
    from .threads import set_threads
    from .workloads import WorkloadSpec, build

    set_threads(args.threads)
    bundle = args.bundle or _latest_bundle(args.variant)
    spec = WorkloadSpec(kinds=tuple(args.kinds), u2i_metrics=tuple(args.u2i_metrics), i2i_metrics=tuple(args.i2i_metrics),
                        k=args.k, scale=args.scale)
    for path in build(bundle, spec, paths.workloads_dir()):
        print(f"wrote {path}")


def cmd_workloads_import(args) -> None:
    from .threads import set_threads
    from .workloads.byo import import_npy

    set_threads(args.threads)
    print(f"wrote {import_npy(args.base, args.queries, args.metric, args.name, paths.workloads_dir(), k=args.k)}")


def cmd_workloads_info(args) -> None:
    from .workloads.inspect import info

    print(json.dumps(info(paths.find_workload(args.name)), indent=2, default=str))


def cmd_workloads_list(args) -> None:
    from .workloads.format import read

    for f in paths.workload_files():
        w = read(f)
        print(f"{w.name:40} {w.metric:7} base {w.train.shape[0]:>9} x {w.dimension:<4} queries {len(w.test):>6}  {f}")


def cmd_sweep(args) -> None:
    from .sweep import config as sweep_config
    from .sweep.runner import sweep

    cfg = sweep_config.load(args.config)
    build = sweep_config.parse_assignments(args.build) if args.build else None
    cfg = cfg.narrowed(algorithms=args.algorithms, build=build)
    names = args.workloads or cfg.workloads
    if not names:
        raise AnnBenchError(f"no workloads: list them under 'workloads:' in {args.config} or pass --workloads NAME ...")
    workloads = [paths.find_workload(n) for n in names]
    outcomes = sweep(cfg, workloads, paths.results_dir(), force=args.force, retry_failed=args.retry_failed, threads_all=args.threads)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "skipped")}
    print(f"{counts['ok']} runs done, {counts['failed']} failed, {counts['skipped']} already done; results in {paths.results_dir()}")


def cmd_results_table(args) -> None:
    from .results.table import gather

    df = gather(paths.results_dir())
    out = args.output
    if out is None:
        with __import__("pandas").option_context("display.max_rows", 500, "display.width", 200):
            print(df.drop(columns=[c for c in df.columns if c.startswith(("build.", "query.")) or c in ("file", "workload_hash", "git_commit", "cpu", "started", "metric")]).to_string(index=False))
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    print(f"wrote {out} ({len(df)} rows)")


def build_parser() -> argparse.ArgumentParser:
    from .embeddings.model import TowerConfig
    from .embeddings.train import TrainConfig

    parser = argparse.ArgumentParser(prog="ann-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="MovieLens: list, fetch, prepare").add_subparsers(dest="data_command", required=True)
    data.add_parser("variants", help="list the MovieLens variants").set_defaults(func=cmd_data_variants)
    f = data.add_parser("fetch", help="download (or locate) and verify a variant")
    _add_source_args(f)
    f.set_defaults(func=cmd_data_fetch)
    pr = data.add_parser("prepare", help="threshold, k-core and split a variant")
    _add_source_args(pr)
    _add_prep_args(pr)
    pr.set_defaults(func=cmd_data_prepare)

    t = sub.add_parser("train", help="train the two-tower model and evaluate it against baselines")
    _add_source_args(t)
    _add_prep_args(t)
    td, tw = TrainConfig(), TowerConfig()
    g = t.add_argument_group("model")
    g.add_argument("--dim", type=int, default=tw.dim, help="output dimension (default %(default)s)")
    g.add_argument("--no-normalize", action="store_true", help="do not L2-normalise the tower outputs")
    g.add_argument("--no-title-words", action="store_true", help="leave title words out of the item tower")
    g.add_argument("--no-user-ids", action="store_true", help="user tower from history and demographics only")
    g.add_argument("--temperature", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.3],
                   help="softmax temperature(s); with several, the best on validation is kept (default %(default)s)")
    g.add_argument("--no-logq", action="store_true", help="turn off the logQ popularity correction")
    g.add_argument("--uniform-negatives", type=int, default=td.uniform_negatives, help="extra uniform negatives per batch")
    g.add_argument("--epochs", type=int, default=td.max_epochs, help="maximum epochs (early stopping ends sooner)")
    g.add_argument("--patience", type=int, default=td.patience)
    g.add_argument("--batch-size", type=int, default=td.batch_size)
    g.add_argument("--lr", type=float, default=td.lr)
    g.add_argument("--seed", type=int, default=td.seed)
    g.add_argument("--threads", type=int, default=1, help="threads for torch, BLAS and ALS (default %(default)s)")
    g.add_argument("--no-baselines", action="store_true", help="skip the popularity and ALS baselines")
    t.set_defaults(func=cmd_train)

    wl = sub.add_parser("workloads", help="search workloads: vectors + exact ground truth").add_subparsers(dest="workloads_command", required=True)
    wb = wl.add_parser("build", help="u2i/i2i workloads from a trained model")
    wb.add_argument("variant", help="MovieLens variant whose newest trained model to use")
    wb.add_argument("--bundle", type=Path, help="a specific model folder under datasets/models")
    wb.add_argument("--kinds", nargs="+", default=["u2i", "i2i"], help="u2i and/or i2i (default %(default)s)")
    wb.add_argument("--u2i-metrics", nargs="+", default=["ip", "cosine", "l2"])
    wb.add_argument("--i2i-metrics", nargs="+", default=["cosine"])
    wb.add_argument("--scale", type=int, help="total base size: add synthetic items drawn from a mixture fitted to the real ones")
    wb.add_argument("--k", type=int, default=100, help="ground-truth neighbours per query (default %(default)s)")
    wb.add_argument("--threads", type=int, default=2, help="BLAS threads for the ground truth (default %(default)s)")
    wb.set_defaults(func=cmd_workloads_build)
    wi = wl.add_parser("import", help="bring your own embeddings: base/query .npy files")
    wi.add_argument("name")
    wi.add_argument("--base", type=Path, required=True)
    wi.add_argument("--queries", type=Path, required=True)
    wi.add_argument("--metric", choices=("ip", "cosine", "l2"), required=True)
    wi.add_argument("--k", type=int, default=100)
    wi.add_argument("--threads", type=int, default=2)
    wi.set_defaults(func=cmd_workloads_import)
    wn = wl.add_parser("info", help="sizes, norms, difficulty and provenance of a workload")
    wn.add_argument("name", help="workload name (e.g. ml-latest-small.u2i.ip) or path")
    wn.set_defaults(func=cmd_workloads_info)
    wl.add_parser("list", help="list workloads").set_defaults(func=cmd_workloads_list)

    sw = sub.add_parser("sweep", help="run algorithms.yaml over workloads, one isolated process per build")
    sw.add_argument("--config", type=Path, default=Path("algorithms.yaml"))
    sw.add_argument("--workloads", nargs="+", help="workload names (default: the file's 'workloads' list)")
    sw.add_argument("--algorithms", nargs="+", help="only these algorithms from the file")
    sw.add_argument("--build", help="a single build configuration, e.g. 'M=16,ef_construction=200'")
    sw.add_argument("--force", action="store_true", help="rerun runs that already have a result file")
    sw.add_argument("--retry-failed", action="store_true", help="rerun runs that failed before")
    sw.add_argument("--threads", type=int, help="threads for the all-cores batch mode and builds (default: all available)")
    sw.set_defaults(func=cmd_sweep)

    res = sub.add_parser("results", help="sweep results").add_subparsers(dest="results_command", required=True)
    rt = res.add_parser("table", help="one row per (run, query configuration)")
    rt.add_argument("--output", "-o", help="write CSV (or .parquet, if pyarrow is installed) instead of printing")
    rt.set_defaults(func=cmd_results_table)

    models = sub.add_parser("models", help="trained models").add_subparsers(dest="models_command", required=True)
    mt = models.add_parser("table", help="Markdown table of test quality for trained models")
    mt.add_argument("bundles", nargs="*", help="model folders (default: all under datasets/models)")
    mt.set_defaults(func=cmd_models_table)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ann-bench: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        args.func(args)
    except AnnBenchError as exc:
        print(f"ann-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ann-bench: interrupted; finished outputs are kept, partial ones were discarded.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
