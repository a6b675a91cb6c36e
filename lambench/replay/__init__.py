"""Offline replay: trajectory datasets, teacher-forced replay, the LAM paper's step metrics,
importers of published formats, and training-data export."""
