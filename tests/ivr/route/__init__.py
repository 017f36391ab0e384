"""Tests of the speech router (ivr.route)."""
