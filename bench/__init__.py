"""`make bench`: Pledgeline's speed and memory targets (DESIGN.md, "Speed and memory"), measured
side by side in one run and reported as ratios. Start with `bench/run.py`."""
