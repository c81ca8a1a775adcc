"""Viewflow flows and their views. They wire the process to ``certification`` services and hold no rule."""
