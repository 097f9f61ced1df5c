"""Rule sets shipped with Zaslon (data files: ``default.json``)."""
