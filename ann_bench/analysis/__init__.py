"""Stage 6: Pareto frontiers, plots, tables and the HTML report, from the results table."""
