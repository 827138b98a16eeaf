"""Pull: time to get an image from a registry (cold, warm, layer sharing). A stub until ``vmvc pull``
exists (issue 15): it says so in the report instead of measuring something else."""

from benchmarks.suites._stub import not_yet

NAME = "pull"
TITLE = "Pulling images from a registry"
NEEDS: list[str] = []
CLAIMS = ["C9"]
WHY = "needs the registry work: `vmvc pull` does not exist yet (issue 15)"
run, claims = not_yet("C9", WHY, "the pull half of 'create from nothing' ")
