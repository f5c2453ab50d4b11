"""Replay evaluation: a bag through the real node graph, scored against ground truth."""
