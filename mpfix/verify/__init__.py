"""Running a project's own code under a forced start method: `mpfix run`, the start-up
hook's helper, and the pytest plugin. Nothing here imports libcst or the engine.
"""
