"""The load harness's latency window (benchmarks/load_soak.py ``in_window``): only frames
captured within the timed seconds count, on each tab's own clock origin."""
from __future__ import annotations

from benchmarks.load_soak import in_window


def test_frames_outside_the_timed_window_are_left_out_on_each_tabs_clock():
    # Two tabs opened 5 s apart: the same wall-clock moment is a different page time in each.
    start, end = 1000.0, 1060.0
    tab_a = {"origin": 990_000.0, "at": [9_000.0, 10_000.0, 70_000.0, 71_000.0],
             "shown": [900.0, 200.0, 300.0, 800.0], "lat": [950.0, 240.0, 350.0, 850.0]}
    tab_b = {"origin": 995_000.0, "at": [4_999.0, 5_000.0, 65_000.0, 65_001.0],
             "shown": [700.0, 210.0, 310.0, 600.0], "lat": [720.0, 250.0, 360.0, 650.0]}
    assert in_window([tab_a, tab_b], start, end) == [200.0, 300.0, 210.0, 310.0]
    assert in_window([tab_a, tab_b], start, end, "lat") == [240.0, 350.0, 250.0, 360.0]


def test_a_tab_without_a_clock_origin_or_frames_adds_nothing():
    assert in_window([{"fresh": 0, "lat": []}, {"origin": 0.0, "at": [], "shown": []}], 0.0, 1e9) == []
