"""Hotline service levels: what a call's facts are and how the figures are defined, in one place.

Pure: values in, values out (no Flask, no store, no qa). ``facts`` turns a call's stored row and
events into one `CallFacts`; ``definitions`` turns many of those into the figures supervisors see
(接通率, 平均等待, abandonment, containment, the menu funnel...). The IVR, the CLI, the workspace
page and the reports all use these two modules, so a figure means the same thing everywhere.
"""
