"""``ann-bench stream``: the catalog replayed in time order under each configured index."""

from __future__ import annotations

from pathlib import Path

from ..errors import AnnBenchError
from .options import at_least


def cmd_stream(args) -> int:
    from .. import paths
    from ..analysis.stream import claims, plots, summary
    from ..analysis.tables import markdown
    from ..stream import config as stream_config, store
    from ..stream.run import replay_all
    from ..sweep import config as sweep_config

    cfg = sweep_config.load(args.config)
    scfg = stream_config.from_sweep_config(cfg).narrowed(args.algorithms).with_settings(
        batches=args.batches, queries=args.queries, fresh_every=args.fresh_every, rebuild_every=args.rebuild_every)
    if not args.workloads:
        raise AnnBenchError("name the workloads to replay: --workloads NAME ... (`ann-bench workloads list` shows them).")
    workloads = [paths.find_workload(n) for n in args.workloads]
    root = args.results or paths.results_dir() / "stream"
    outcomes = replay_all(scfg, workloads, root, cfg.settings, force=args.force)
    steps = store.read_all(root)
    table = summary(steps)
    table.to_csv(root / "stream.csv", index=False)
    (root / "stream.md").write_text(markdown(table) + "\n")
    checked = claims(steps)
    checked.to_csv(root / "claims.csv", index=False)
    (root / "claims.md").write_text(markdown(checked) + "\n")
    figures = plots(steps, root / "plots")
    print(markdown(table) + "\n\n" + markdown(checked))
    failed = sum(o.status == store.FAILED for o in outcomes)
    print(f"{len(outcomes) - failed} replays complete ({sum(o.status == 'kept' for o in outcomes)} kept from before), "
          f"{failed} failed; tables {root / 'stream.md'}, {root / 'claims.md'}, plots {', '.join(str(p) for p in figures)}")
    return 1 if failed else 0


def register(sub) -> None:
    sp = sub.add_parser("stream", help="replay the catalog's arrivals and retirements in time order under each index "
                                       "(algorithms.yaml's stream: section): recall, update throughput and memory over time")
    sp.add_argument("--config", type=Path, default=Path("algorithms.yaml"), help="the file whose 'stream:' section to use")
    sp.add_argument("--workloads", nargs="+", help="workload names (their files must carry item rating times)")
    sp.add_argument("--algorithms", nargs="+", help="only these entries of stream.algorithms")
    sp.add_argument("--batches", type=at_least(1), help="batches in the replay (default: the file's stream.batches)")
    sp.add_argument("--queries", type=at_least(1), help="queries timed after every batch (default: the file's)")
    sp.add_argument("--fresh-every", type=at_least(1), help="batches between fresh builds for comparison (default: the file's)")
    sp.add_argument("--rebuild-every", type=at_least(1),
                    help="batches between rebuilds of indexes that cannot update (default: the file's)")
    sp.add_argument("--force", action="store_true", help="replay again even where a complete result of the same definition exists")
    sp.add_argument("--results", type=Path, metavar="DIR", help="where replay results go (default: results/stream)")
    sp.set_defaults(func=cmd_stream)
