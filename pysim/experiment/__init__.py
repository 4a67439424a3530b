"""Experiments: the resilience matrix (:mod:`.resilience`), parameter sweeps with their
report (:mod:`.sweep`, :mod:`.report`), and progress on a terminal (:mod:`.progress`)."""
