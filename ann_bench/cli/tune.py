"""``ann-bench tune``: the fastest configuration that meets recall, latency and memory goals."""

from __future__ import annotations

from pathlib import Path

from ..errors import AnnBenchError
from .options import at_least, between
from .sweep import _executor, add_executor_options


def cmd_tune(args) -> int:
    import pandas as pd

    from .. import paths
    from ..analysis.tables import markdown
    from ..sweep import config as sweep_config, registry
    from ..tune import targets
    from ..tune.answer import answer
    from ..tune.screen import Screening, screen
    from ..tune.study import Tuning, run_study

    cfg = sweep_config.load(args.config).narrowed(algorithms=args.algorithms)
    file_targets, file_limits, file_trials = targets.from_file(cfg.tune, cfg.source)
    goals = targets.goals(args.target or file_targets, args.limit or file_limits)
    tuning = Tuning(tuple(goals), trials=args.trials or file_trials or 8, seed=args.seed, qps=args.qps, ratio=args.ratio,
                    query_configs=args.query_configs, min_time_s=args.min_time)
    names = args.workloads or cfg.workloads
    if not names:
        raise AnnBenchError(f"no workloads: list them under 'workloads:' in {args.config} or pass --workloads NAME ...")
    workloads = [paths.find_workload(n) for n in names]
    out = args.results or paths.results_dir() / "tune"
    rows = []
    missing = registry.left_out(cfg.algorithms, "this tuning run")
    executor = _executor(args)
    try:
        for wpath in workloads:
            for alg in cfg.algorithms:
                if registry.get(alg.adapter).exact or alg.name in missing:
                    continue  # exact search has nothing to tune
                screened = None
                if args.screen:
                    screened = screen(cfg, alg, wpath, out, tuning, executor, Screening(args.screen, args.screen_builds, args.seed))
                done = run_study(cfg, alg, wpath, out, tuning, executor, first=[screened.first] if screened else ())
                if done is not None:
                    space, files, name = done
                    print(f"{name} {alg.name}: searched {space.describe()}")
                    rows += answer(name, alg.name, files, goals, tuning.qps, screened.cost() if screened else None)
    finally:
        executor.close()
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"tuned.{tuning.qps}.csv", index=False)
    (out / f"tuned.{tuning.qps}.md").write_text(markdown(table) + "\n")
    print(markdown(table))
    print(f"wrote {out / f'tuned.{tuning.qps}.csv'}; every measured configuration is a result file under {out}")
    return 0


def register(sub) -> None:
    tp = sub.add_parser("tune", help="find the fastest configuration meeting recall (and latency, memory) goals: "
                                     "Optuna over build parameters, bisection over the query parameter")
    tp.add_argument("--config", type=Path, default=Path("algorithms.yaml"),
                    help="algorithms (and their narrowed ranges) and an optional 'tune:' section with targets, limits, trials")
    tp.add_argument("--workloads", nargs="+", help="workload names (default: the file's 'workloads' list)")
    tp.add_argument("--algorithms", nargs="+", help="only these algorithms from the file")
    tp.add_argument("--target", action="append", metavar="'recall@K >= R'",
                    help="a recall target (repeat for several, at one K); default: the file's tune.targets")
    tp.add_argument("--limit", action="append", metavar="'p99_ms <= X'",
                    help="a limit every answer must meet: p99_ms, index_mb or build_s (repeatable)")
    tp.add_argument("--trials", type=at_least(1), help="builds per workload and algorithm (default: the file's tune.trials, else 8)")
    tp.add_argument("--query-configs", type=at_least(1), metavar="Q",
                    help="at most Q query configurations per workload and algorithm, shared by its builds (each may use "
                         "what is left less one per target for every build after it); "
                         "a build whose share runs out answers from the values it measured (default: no limit)")
    tp.add_argument("--seed", type=at_least(0), default=0, help="the sampler's seed (default %(default)s)")
    tp.add_argument("--qps", choices=("qps_single", "qps_batch_1t", "qps_batch_nt"), default="qps_single",
                    help="the speed to maximise (default %(default)s: one request at a time, 1 thread)")
    tp.add_argument("--ratio", type=between(1.0, 4.0), default=1.1,
                    help="bisection stops when the query parameter's bracket is this narrow, relatively (default %(default)s)")
    tp.add_argument("--min-time", type=between(0.0, 60.0), default=1.0, metavar="S",
                    help="each query mode of each configuration timed for at least S seconds, or the file's "
                         "settings.min_time_s if longer (default %(default)s: the answer is the fastest of a few points, "
                         "and passes of a few milliseconds vary by a fifth)")
    tp.add_argument("--screen", type=between(0.0, 1.0), metavar="F",
                    help="first rank build configurations on a random sample of F of the catalog (written beside the "
                         "workload; its builds under DIR/screen), and build the best of them first on the full catalog: "
                         "where only one or two full builds are affordable (default: no screening)")
    tp.add_argument("--screen-builds", type=at_least(1), default=8, metavar="B",
                    help="builds on the sample, spread over the space by a Sobol sequence (default %(default)s)")
    tp.add_argument("--results", type=Path, metavar="DIR", help="where tuned runs and studies go (default: results/tune)")
    add_executor_options(tp)
    tp.set_defaults(func=cmd_tune)
