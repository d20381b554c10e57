"""Streams: camera connections (PyAV demux, never decode for recording), the packet fan-out, the segment
recorder, clip cutting, live tracks, and the frame decoder that feeds detection. Imports :mod:`config` and
:mod:`storage`, never :mod:`detection`.
"""
