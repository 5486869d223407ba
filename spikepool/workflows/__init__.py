"""Workflows over fits: the held-out pooling comparison and many sessions in parallel (``fit_many``)."""
