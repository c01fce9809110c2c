"""In-batch sampled softmax with logQ correction (Yi et al., RecSys 2019).

Each row's positive competes with the other rows' positives. Popular items turn up as
in-batch negatives more often, so their logits are corrected by the log of their expected
count in the sample; without it the model learns to under-rank popular items. A column
holding the same item as the row's own positive is masked, not treated as a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sampled_softmax_loss(
    users: torch.Tensor,
    items: torch.Tensor,
    item_ids: torch.Tensor,
    *,
    temperature: float,
    log_expected: torch.Tensor | None = None,
    negatives: torch.Tensor | None = None,
    negative_ids: torch.Tensor | None = None,
    negative_log_expected: float = 0.0,
) -> torch.Tensor:
    """Mean cross-entropy of each user's positive against in-batch (and extra) negatives.

    ``log_expected[j]``: log of the expected count of item ``item_ids[j]`` in a batch (the
    logQ correction); ``negatives``: extra uniformly sampled items, corrected by
    ``negative_log_expected``.
    """
    logits = users @ items.T / temperature
    if log_expected is not None:
        logits = logits - log_expected[None, :]
    dup = (item_ids[:, None] == item_ids[None, :]) & ~torch.eye(len(item_ids), dtype=torch.bool)
    logits = logits.masked_fill(dup, float("-inf"))
    if negatives is not None:
        neg = users @ negatives.T / temperature - negative_log_expected
        neg = neg.masked_fill(item_ids[:, None] == negative_ids[None, :], float("-inf"))
        logits = torch.cat([logits, neg], dim=1)
    return F.cross_entropy(logits, torch.arange(len(item_ids)))
