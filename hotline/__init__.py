"""hotline: the composition root — settings, app factory, jobs and CLI."""
