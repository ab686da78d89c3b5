"""The scripts here run under mpiexec or in pool workers; pytest's doctest collection must not import them."""

collect_ignore = ["collectives.py", "launch_jobs.py"]
