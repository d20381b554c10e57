"""Console: the composition root. The web app (routes, pages, the running :class:`console.station.Station`)
and the ``station`` command; the only package that wires :mod:`streams` and :mod:`detection` together.
"""
