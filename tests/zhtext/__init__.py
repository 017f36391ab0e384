"""Tests of zhtext, the Chinese text module every package uses."""
