"""Processor sharing against results worked out by hand."""

import math

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.sharing import ProcessorSharing


def finish_times(capacity, works, arrivals=None, cap=1.0):
    env = simpy.Environment()
    ps = ProcessorSharing(env, capacity, cap=cap)
    done = [None] * len(works)

    def job(i, w, at):
        yield env.timeout(at)
        yield ps.serve(w)
        done[i] = env.now

    for i, w in enumerate(works):
        env.process(job(i, w, (arrivals or [0] * len(works))[i]))
    env.run()
    return done


@given(n=st.integers(1, 60), c=st.integers(1, 8), t=st.floats(0.001, 10))
def test_equal_jobs_all_finish_at_max_1_n_over_c_times_t(n, c, t):
    for f in finish_times(c, [t] * n):
        assert math.isclose(f, max(1.0, n / c) * t, rel_tol=1e-9)


def test_late_arrival_slows_the_first_job_down():
    # one core: A (1 s of work) alone for 0.5 s, then shares with B: A ends at 1.5, B alone until 2.0
    assert finish_times(1, [1.0, 1.0], [0.0, 0.5]) == [1.5, 2.0]


@settings(max_examples=50)
@given(works=st.lists(st.floats(0.001, 5), min_size=1, max_size=30))
def test_one_core_is_work_conserving_and_short_jobs_finish_first(works):
    done = finish_times(1, works)
    assert math.isclose(max(done), sum(works), rel_tol=1e-9)
    order = sorted(range(len(works)), key=lambda i: works[i])
    assert all(done[a] <= done[b] + 1e-9 for a, b in zip(order, order[1:], strict=False))


def test_a_single_job_never_gets_more_than_its_cap():
    assert finish_times(4, [2.0]) == [2.0]  # 4 cores, 1 job, single-threaded: 2 s, not 0.5 s
    assert finish_times(4, [2.0], cap=None) == [0.5]  # a disk: one reader gets all the bandwidth


def test_zero_work_is_done_immediately():
    assert finish_times(1, [0.0, 1.0]) == [0.0, 1.0]


def test_fractional_capacity_models_a_shared_host():
    # 1.5 effective cores: one job still runs at full speed, three share 1.5 cores
    assert finish_times(1.5, [1.0]) == [1.0]
    assert all(math.isclose(f, 2.0) for f in finish_times(1.5, [1.0, 1.0, 1.0]))
