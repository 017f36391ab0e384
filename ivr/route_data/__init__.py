"""Data of the speech router (requests, synonyms, policy, model): a package so wheels ship it."""
