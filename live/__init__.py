"""Live calls: both tracks of a bridged call -> recognizer -> live QA events -> board and agent assist.

- `call`: one stream's listener (two recognizers, turns on the stream clock);
- `monitor`: live QA on each turn (pure; the qa scorers and scorecard);
- `board`: the process's live calls, capacity, events kept and pushed to subscribers;
- `knowledge`: answer snippets from the hotline's own documents (indexed at build time);
- `web`: the agent assist page and the signed events API.
"""
