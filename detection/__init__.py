"""Detection: turns plain frames into events the officer reviews.

Input is a plain :class:`detection.frame.Frame` (camera, UTC timestamp, BGR image), so this package needs
nothing from ``streams/``. The frame path: motion gate (:mod:`detection.motion`) → object detector behind a
backend registry (:mod:`detection.backend`, :mod:`detection.detector`) → tracker with stationary-object logic
(:mod:`detection.tracker`) → zones (:mod:`detection.zone`) → rules, pure state machines driven by frame
timestamps (:mod:`detection.rule`) → events (:mod:`detection.event`). :mod:`detection.pipeline` wires these
for one camera; the console is the composition root that feeds it frames and stores its events.
"""
