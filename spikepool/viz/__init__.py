"""Figures (``plots``) and the HTML report (``report``)."""
