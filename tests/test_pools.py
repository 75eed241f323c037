"""fer_app.pools: the event loop's default executor whose idle threads end."""
import asyncio
import threading
import time

import pytest

from fer_app.pools import IdleThreadPool, install


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_runs_work_and_hands_back_results_and_exceptions():
    pool = IdleThreadPool(max_workers=2, idle_s=5)
    assert pool.submit(pow, 2, 10).result(timeout=5) == 1024
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=5)
    pool.shutdown()


def test_never_more_threads_than_the_limit_and_all_work_done():
    pool = IdleThreadPool(max_workers=3, idle_s=5)
    gate, running, most = threading.Event(), [], []
    lock = threading.Lock()

    def job(i):
        with lock:
            running.append(i)
            most.append(len(running))
        gate.wait(5)
        with lock:
            running.remove(i)
        return i

    futures = [pool.submit(job, i) for i in range(10)]
    assert wait_for(lambda: len(running) == 3)
    assert pool.threads == 3
    gate.set()
    assert sorted(f.result(timeout=5) for f in futures) == list(range(10))
    assert max(most) == 3
    pool.shutdown()
    assert pool.threads == 0


def test_idle_threads_end_and_new_work_starts_one_again():
    pool = IdleThreadPool(max_workers=4, idle_s=0.2)
    before = threading.active_count()
    gate = threading.Event()
    futures = [pool.submit(gate.wait, 5) for _ in range(4)]
    assert wait_for(lambda: pool.threads == 4)
    gate.set()
    assert all(f.result(timeout=5) for f in futures)
    assert wait_for(lambda: pool.threads == 0 and threading.active_count() == before)
    assert pool.submit(lambda: "again").result(timeout=5) == "again"
    assert pool.threads == 1
    pool.shutdown()


def test_a_busy_idle_thread_is_reused_rather_than_a_new_one_started():
    pool = IdleThreadPool(max_workers=4, idle_s=5)
    for i in range(20):  # one after the other: the one thread is idle each time
        assert pool.submit(lambda x=i: x).result(timeout=5) == i
    assert pool.threads == 1
    pool.shutdown()


def test_shutdown_cancels_waiting_work_when_asked_and_refuses_new_work():
    pool = IdleThreadPool(max_workers=1, idle_s=5)
    gate = threading.Event()
    first = pool.submit(gate.wait, 5)
    assert wait_for(lambda: first.running())
    waiting = pool.submit(lambda: "never")
    threading.Timer(0.2, gate.set).start()
    pool.shutdown(wait=True, cancel_futures=True)
    assert first.result(timeout=1) is True and waiting.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_is_the_event_loops_default_executor_after_install():
    async def main():
        pool = install(asyncio.get_running_loop(), max_workers=2, idle_s=0.2)
        names = await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(
            None, lambda: (time.sleep(0.05), threading.current_thread().name)[1]) for _ in range(4)))
        return pool, names

    loop = asyncio.new_event_loop()
    try:
        pool, names = loop.run_until_complete(main())
        assert all(n.startswith("asyncio-idle_") for n in names) and len(set(names)) <= 2
        assert wait_for(lambda: pool.threads == 0)
    finally:
        loop.close()


def test_start_does_nothing_without_a_streamlit_server():
    from fer_app.pools import start

    assert start() is None
