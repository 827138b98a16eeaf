"""Registry mirrors: pull time through a slow, far upstream vs a near mirror, and the fallback when the
mirror fails (claim C12). A stub until ``vmvc pull`` and ``registry-mirrors`` exist (issue 15)."""

from benchmarks.suites._stub import not_yet

NAME = "mirror"
TITLE = "Registry mirrors (镜像加速)"
NEEDS: list[str] = []
CLAIMS = ["C12"]
WHY = "needs the registry work: `vmvc pull` and registry-mirrors do not exist yet (issue 15)"
run, claims = not_yet("C12", WHY)
