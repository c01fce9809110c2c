"""``ann-bench sweep`` and ``ann-bench results``."""

from __future__ import annotations

from pathlib import Path

from .. import paths
from .options import add_results_option, at_least, non_negative, positive, results_dir
from ..errors import AnnBenchError


def cmd_sweep(args) -> int:
    from ..sweep import config as sweep_config
    from ..sweep.runner import dry_run, sweep

    cfg = sweep_config.load(args.config)
    build = sweep_config.parse_assignments(args.build) if args.build else None
    cfg = cfg.narrowed(algorithms=args.algorithms, build=build).with_settings(k=args.k, repeats=args.repeats, min_time_s=args.min_time_s)
    names = args.workloads or cfg.workloads
    if not names:
        raise AnnBenchError(f"no workloads: list them under 'workloads:' in {args.config} or pass --workloads NAME ...")
    workloads = [paths.find_workload(n) for n in names]
    if args.dry_run:
        executor = _executor(args)  # its runs' thread count is part of their definition
        executor.close()
        lines = dry_run(cfg, workloads, results_dir(args), force=args.force, retry_failed=args.retry_failed,
                        threads_all=executor.threads_all, total_line=True)
        print("\n".join(lines))
        n = {w: sum(line.startswith(w) for line in lines) for w in ("run ", "keep ", "skip ")}
        print(f"{n['run ']} runs would run, {n['skip ']} would be skipped (predicted past the build timeout or memory limit), {n['keep ']} are up to date "
              "(dry run: nothing was measured)")
        return
    executor = _executor(args)
    outcomes = sweep(cfg, workloads, results_dir(args), force=args.force, retry_failed=args.retry_failed,
                     budget_s=args.budget_min * 60 if args.budget_min else None, executor=executor)
    if getattr(executor, "shipping", None):
        print(executor.shipping())
    if args.mlflow is not None:
        _log_mlflow(results_dir(args), args.mlflow)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "kept", "skipped", "not started")}
    print(f"{counts['ok']} runs done, {counts['failed']} failed, {counts['kept']} already done"
          + (f", {counts['skipped']} skipped (predicted past the build timeout or memory limit)" if counts["skipped"] else "")
          + (f", {counts['not started']} not started (over the time budget; rerun to go on)" if counts["not started"] else "")
          + f"; results in {results_dir(args)}")
    return 1 if counts["failed"] else 0  # the exit status says whether runs failed


def cmd_algorithms(args) -> None:
    from ..sweep import catalog

    if not args.names:
        print(catalog.listing())
        print("\n`ann-bench algorithms NAME` shows one adapter's build and query parameters; algorithms.yaml names them.")
        return
    print("\n\n".join(catalog.describe(n) for n in args.names))


def _executor(args):
    """Where the runs are measured, from --jobs / --ray."""
    if args.ray:
        if args.jobs != 1:
            raise AnnBenchError("--jobs is for this machine; on Ray, use --ray-runs-per-node.")
        from ..sweep.executors.ray_cluster import RayExecutor

        return RayExecutor(args.ray, runs_per_node=args.ray_runs_per_node, threads=args.threads, ship=args.ray_ship)
    from ..sweep.executors.local import LocalExecutor

    return LocalExecutor(jobs=args.jobs, threads=args.threads)


def add_executor_options(parser) -> None:
    """--threads, --jobs and --ray: where and on how many cores runs are measured."""
    parser.add_argument("--threads", type=at_least(1), help="threads for the all-cores batch mode and builds (default: all available)")
    where = parser.add_argument_group("where runs are measured (default: here, one at a time)")
    where.add_argument("--jobs", type=at_least(1), default=1,
                       help="runs at once on this machine, each pinned to its own share of the cores")
    where.add_argument("--ray", metavar="ADDRESS",
                       help="on a Ray cluster: auto, ray://HOST:PORT, or local (start one here); needs pip install 'ann-bench[ray]'")
    where.add_argument("--ray-runs-per-node", type=at_least(1), default=1,
                       help="runs at once per node, each pinned to its share of the node's cores (default %(default)s)")
    where.add_argument("--ray-ship", choices=("auto", "always"), default="auto",
                       help="auto: a node that sees the workload's path (same content hash) reads it there; always: every "
                            "node gets it through the object store (default %(default)s)")


def cmd_results_table(args) -> None:
    from ..results.table import gather

    df = gather(results_dir(args))
    if not args.output:
        with __import__("pandas").option_context("display.max_rows", 500, "display.width", 200):
            print(df.drop(columns=[c for c in df.columns if c.startswith(("build.", "query.")) or c in ("file", "workload_hash", "git_commit", "cpu", "node", "started", "metric")]).to_string(index=False))
        return
    for out in map(Path, args.output):
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            df.to_parquet(out, index=False)
        else:
            df.to_csv(out, index=False)
        print(f"wrote {out} ({len(df)} rows)")


def cmd_results_export(args) -> None:
    if args.format == "mlflow":
        _log_mlflow(results_dir(args), args.dest)
        return
    from ..results import ann_benchmarks

    if not args.dest:
        raise AnnBenchError("results export --format ann-benchmarks needs DEST, the folder to write the layout into.")
    done = ann_benchmarks.export(results_dir(args), Path(args.dest))
    print(f"wrote {done['files']} result files and {done['datasets']} dataset(s) under {args.dest} in ann-benchmarks' layout; "
          f"from there: python plot.py --dataset WORKLOAD --count K (ann-benchmarks' own script)")


def _log_mlflow(results: Path, uri: str | None) -> None:
    from ..results import mlflow_log

    new, before, uri = mlflow_log.log(results, uri or None)
    print(f"MLflow: {new} configurations logged to {uri} (experiment '{mlflow_log.EXPERIMENT}'), {before} were there already")


def cmd_results_compare(args) -> None:
    from ..analysis.tables import markdown
    from ..results.compare import machines, matched, recall_changes, speed_ratios
    from ..results.table import gather

    m = matched(gather(args.a), gather(args.b))
    print(f"{len(m)} configurations in both ({machines(m)})\n")
    print("speed, B / A per configuration:\n" + markdown(speed_ratios(m)) + "\n")
    print("recall, largest change per algorithm:\n" + markdown(recall_changes(m)))


def register(sub) -> None:
    sw = sub.add_parser("sweep", help="run algorithms.yaml over workloads, one isolated process per build")
    sw.add_argument("--config", type=Path, default=Path("algorithms.yaml"))
    sw.add_argument("--workloads", nargs="+", help="workload names (default: the file's 'workloads' list)")
    sw.add_argument("--algorithms", nargs="+", help="only these algorithms from the file")
    sw.add_argument("--build", help="a single build configuration, e.g. 'M=16,ef_construction=200'")
    sw.add_argument("--k", type=at_least(1), nargs="+", help="retrieval depths recall is measured at (default: the file's settings.k)")
    sw.add_argument("--repeats", type=at_least(1), help="timed passes per query configuration (default: the file's settings.repeats)")
    sw.add_argument("--min-time-s", type=non_negative,
                    help="more passes until each query mode took this many seconds (default: the file's settings.min_time_s)")
    sw.add_argument("--force", action="store_true", help="rerun runs that already have a result file")
    sw.add_argument("--retry-failed", action="store_true", help="rerun runs that failed before")
    sw.add_argument("--dry-run", action="store_true", help="print what would run and why (new, changed settings, ...), measure nothing")
    sw.add_argument("--budget-min", type=positive,
                    help="time budget in minutes: runs predicted (from earlier sizes) to end past it are not started")
    sw.add_argument("--mlflow", nargs="?", const="", metavar="URI",
                    help="then log every measured configuration to MLflow (default URI: sqlite:///RESULTS/mlflow.db, offline)")
    add_executor_options(sw)
    add_results_option(sw)
    sw.set_defaults(func=cmd_sweep)

    al = sub.add_parser("algorithms", help="every index adapter: library version here, metrics, parameters")
    al.add_argument("names", nargs="*", metavar="NAME", help="show these adapters' parameters (default: a line per adapter)")
    al.set_defaults(func=cmd_algorithms)

    res = sub.add_parser("results", help="sweep results").add_subparsers(dest="results_command", required=True)
    rt = res.add_parser("table", help="one row per (run, query configuration)")
    rt.add_argument("--output", "-o", nargs="+", help="write CSV, or Parquet for a .parquet name (several names: each), instead of printing")
    add_results_option(rt)
    rt.set_defaults(func=cmd_results_table)
    rc = res.add_parser("compare", help="two sweeps of the same configurations (two runs or machines): speed ratios, recall changes")
    rc.add_argument("a", type=Path, help="a results folder (A)")
    rc.add_argument("b", type=Path, help="another results folder (B)")
    rc.set_defaults(func=cmd_results_compare)
    rx = res.add_parser("export", help="results in another tool's layout: ann-benchmarks (its plot.py and website scripts read them)")
    rx.add_argument("--format", choices=("ann-benchmarks", "mlflow"), required=True)
    rx.add_argument("dest", nargs="?", metavar="DEST",
                    help="ann-benchmarks: a folder (DEST/results/..., DEST/data/...); mlflow: a tracking URI "
                         "(default: sqlite:///RESULTS/mlflow.db, offline)")
    add_results_option(rx)
    rx.set_defaults(func=cmd_results_export)
