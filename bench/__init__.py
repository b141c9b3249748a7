"""`make bench` and `make chaos`: measurements against the emulator, not tests.

`python -m bench` runs the sync scenarios (scenarios.py, with push.py and history.py);
`python -m bench.chaos` the long crash, drift, fault and hostile-data runs.
"""
