"""The per-module worker thread: order, errors, and surviving callers that went away."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent.tokens.worker import ModuleWorker


@pytest.fixture
def worker():
    """A worker thread, stopped after the test."""
    w = ModuleWorker("test")
    yield w
    w.close()


async def test_calls_run_in_order_on_the_one_thread(worker):
    seen: list[tuple[int, threading.Thread]] = []

    def record(i: int) -> int:
        seen.append((i, threading.current_thread()))
        return i * 2

    results = await asyncio.gather(*(worker.run(record, i) for i in range(50)))
    assert results == [i * 2 for i in range(50)]
    assert [i for i, _ in seen] == list(range(50))  # first in, first out
    assert {t for _, t in seen} == {worker.thread}


async def test_exceptions_reach_the_caller_and_the_thread_lives_on(worker):
    def boom() -> None:
        raise ValueError("token said no")

    with pytest.raises(ValueError, match="token said no"):
        await worker.run(boom)
    assert await worker.run(lambda: "still here") == "still here"
    assert worker.run_sync(lambda: 7) == 7
    with pytest.raises(ValueError):
        worker.run_sync(boom)


def test_a_caller_whose_event_loop_is_gone_does_not_kill_the_worker(worker):
    gate = threading.Event()

    async def abandon() -> None:
        pending = asyncio.ensure_future(worker.run(gate.wait, 10))
        await asyncio.sleep(0)  # queued; asyncio.run() then cancels it and closes the loop
        assert not pending.done()

    asyncio.run(abandon())
    gate.set()  # the call finishes after its loop closed: its result has nowhere to go
    assert asyncio.run(asyncio.wait_for(worker.run(lambda: 42), 10)) == 42


def test_submit_runs_in_the_background_and_logs_failures(worker, caplog):
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("session already gone")

    worker.submit(fail)
    worker.submit(done.set)
    assert done.wait(5)
    assert "background PKCS#11 call fail failed" in caplog.text


async def test_a_closed_worker_refuses_new_calls():
    w = ModuleWorker("closing")
    w.close()
    assert not w.thread.is_alive()
    with pytest.raises(RuntimeError):
        await w.run(lambda: None)
