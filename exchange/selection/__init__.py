"""Selection: scoring criteria, committee scores, and the allocation of a call's places
(issue 15). The engine (engine.py) is pure; operations.py loads, runs and writes."""
