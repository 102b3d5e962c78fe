"""The composition root (README "Development"): the only package that wires node, activities, federation and
web together — the web application (``civic.app``) and the ``civic`` command (``civic.cli``)."""
