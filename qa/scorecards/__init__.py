"""Scorecards as YAML data (default.yaml); see qa.scorecard."""
