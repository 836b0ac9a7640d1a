"""The brokers keep a job until it is acknowledged, and serve high priority first."""

import time

import pytest
from django_q.conf import Conf

from sunusav.brokers import PriorityORM, ReliableRedis


@pytest.fixture
def redis_conf(monkeypatch, redis_url):
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    monkeypatch.setattr(Conf, "RETRY", 1)
    monkeypatch.setattr(Conf, "POLL", 0.01)


def _drain(broker, n):
    got = []
    for _ in range(n * 3):
        batch = broker.dequeue()
        if batch:
            got.extend(batch)
        if len(got) == n:
            break
    return got


def test_redis_high_priority_first_and_redelivery_until_ack(redis_conf):
    ReliableRedis("credit").enqueue("normal-1")
    ReliableRedis("credit").enqueue("normal-2")
    ReliableRedis("credit.high").enqueue("high-1")
    worker = ReliableRedis("credit")
    first = _drain(worker, 3)
    assert [payload.decode() for _, payload in first] == ["high-1", "normal-1", "normal-2"]
    assert worker.queue_size() == 0 and worker.lock_size() == 3
    # Acknowledge two; the third's worker "dies". After the retry period it comes back.
    worker.acknowledge(first[0][0])
    worker.acknowledge(first[1][0])
    assert worker.dequeue() is None
    time.sleep(1.1)
    again = _drain(worker, 1)
    assert [payload.decode() for _, payload in again] == ["normal-2"]
    worker.acknowledge(again[0][0])
    time.sleep(1.1)
    assert worker.dequeue() is None and worker.lock_size() == 0


def test_redis_default_cluster_serves_both_queues(redis_conf):
    ReliableRedis("fraud").enqueue("fraud-normal")
    ReliableRedis("credit.high").enqueue("credit-high")
    got = _drain(ReliableRedis("sunusav"), 2)
    assert [payload.decode() for _, payload in got] == ["credit-high", "fraud-normal"]
    assert ReliableRedis("credit").dequeue() is None


@pytest.mark.django_db
def test_orm_redelivers_an_unacknowledged_job(monkeypatch):
    monkeypatch.setattr(Conf, "RETRY", 1)
    monkeypatch.setattr(Conf, "POLL", 0.01)
    PriorityORM("fraud").enqueue("normal")
    PriorityORM("fraud.high").enqueue("high")
    worker = PriorityORM("fraud")
    [(high_id, high)] = worker.dequeue()
    [(normal_id, normal)] = worker.dequeue()
    assert (high, normal) == ("high", "normal")
    worker.acknowledge(high_id)
    assert worker.dequeue() is None
    time.sleep(1.1)
    [(again_id, again)] = worker.dequeue()
    assert (again_id, again) == (normal_id, "normal")
