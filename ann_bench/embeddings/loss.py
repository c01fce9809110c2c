"""In-batch sampled softmax with logQ correction (Yi et al., RecSys 2019).

Each row's positive competes with the other rows' positives and, optionally, with extra
uniformly drawn items (mixed negative sampling, Yang et al., WWW 2020). Every candidate's
logit is corrected by the log of its expected count among the candidates, so that popular
items (frequent in-batch negatives) are not under-ranked. A column holding the same item
as the row's own positive is masked, not treated as a negative.
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
    log_q: torch.Tensor | None = None,
    negatives: torch.Tensor | None = None,
    negative_ids: torch.Tensor | None = None,
    negative_log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of each user's positive against in-batch (and extra) negatives.

    ``log_q[j]``: log of the expected count of item ``item_ids[j]`` among a batch's
    candidates (the logQ correction); ``negatives``: extra items ``negative_ids``, corrected
    by ``negative_log_q`` the same way.
    """
    logits = users @ items.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    dup = (item_ids[:, None] == item_ids[None, :]) & ~torch.eye(len(item_ids), dtype=torch.bool, device=item_ids.device)
    logits = logits.masked_fill(dup, float("-inf"))
    if negatives is not None:
        neg = users @ negatives.T / temperature
        if negative_log_q is not None:
            neg = neg - negative_log_q[None, :]
        neg = neg.masked_fill(item_ids[:, None] == negative_ids[None, :], float("-inf"))
        logits = torch.cat([logits, neg], dim=1)
    return F.cross_entropy(logits, torch.arange(len(item_ids), device=logits.device))
