"""Stage 5: result files (one per run) and the tables gathered from them."""
