"""Renderers of loaded results and verdicts (text now; JSON and Markdown with the verdict engine)."""
