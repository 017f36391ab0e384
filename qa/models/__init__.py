"""Shipped QA model files (sentiment.npz, satisfaction.json), built by scripts/train_*.py."""
