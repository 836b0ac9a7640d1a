"""django-q2 brokers with priorities and at-least-once delivery.

Each queue (`credit`, `fraud`) has two lists: `<queue>.high` and `<queue>`
(normal). A cluster serves the queues named in `Q_QUEUES_SERVED[cluster]` and
always takes high-priority work before normal work. Both brokers keep a task
until it is acknowledged, and hand it out again after `retry` seconds if its
worker died, so nothing accepted is lost (jobs are idempotent for the repeat).

- `PriorityORM`: the embedded default, on the app's own database.
- `ReliableRedis`: for several machines. django-q2's own Redis broker pops a
  task with BLPOP and loses it if the worker is killed; this one moves it to an
  in-flight set with a deadline in one Lua script, and acknowledgement removes it.

Both list every task they hold (`packages`), so the job ledger (sunusav/jobs.py)
can tell a job the broker still has from one it lost (Redis restarted empty).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf

HIGH = "high"
NORMAL = "normal"
PRIORITIES = (HIGH, NORMAL)


def list_key(queue: str, priority: str = NORMAL) -> str:
    """Return the broker list a job of this queue and priority goes to."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
    return f"{queue}.high" if priority == HIGH else queue


def served_keys(cluster: str) -> list[str]:
    """Return the lists a cluster takes work from, high priority first."""
    queues = settings.Q_QUEUES_SERVED.get(cluster, [cluster])
    return [list_key(q, HIGH) for q in queues] + [list_key(q, NORMAL) for q in queues]


class PriorityORM(ORM):
    """The ORM broker, dequeuing from several lists in priority order."""

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        self.keys = served_keys(self.list_key)

    def dequeue(self):
        now = timezone.now()
        for key in self.keys:
            tasks = list(self.get_connection().filter(key=key, lock__lt=now).order_by("id")[: Conf.BULK])
            claimed = []
            for task in tasks:
                # Compare-and-set on the lock: another cluster may have won it.
                if self.get_connection().filter(id=task.id, lock=task.lock).update(lock=self.timeout(task)):
                    claimed.append((task.pk, task.payload))
            if claimed:
                return claimed
        time.sleep(Conf.POLL)
        return None

    def queue_size(self) -> int:
        return self.get_connection().filter(key__in=self.keys, lock__lte=timezone.now()).count()

    def lock_size(self) -> int:
        return self.get_connection().filter(key__in=self.keys, lock__gt=timezone.now()).count()

    def purge_queue(self):
        return self.get_connection().filter(key__in=self.keys).delete()

    def packages(self):
        """Yield the payload of every task in the table, queued or leased, whatever its list."""
        yield from self.get_connection().values_list("payload", flat=True).iterator(chunk_size=500)

    def timeout(self, task):
        return timezone.now() + timedelta(seconds=Conf.RETRY)


# Move expired in-flight tasks back to the head of their list, then pop the
# first task from the lists in priority order into the in-flight set.
_DEQUEUE = """
local now = tonumber(ARGV[1])
local deadline = tonumber(ARGV[2])
local inflight = KEYS[1]
local payloads = KEYS[2]
local homes = KEYS[3]
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local home = redis.call('HGET', homes, id)
  redis.call('ZREM', inflight, id)
  if home then redis.call('LPUSH', home, id) end
end
for i = 4, #KEYS do
  local id = redis.call('LPOP', KEYS[i])
  while id do
    local payload = redis.call('HGET', payloads, id)
    if payload then
      redis.call('ZADD', inflight, deadline, id)
      return {id, payload}
    end
    id = redis.call('LPOP', KEYS[i])
  end
end
return nil
"""


class ReliableRedis(Redis):
    """A Redis broker with priorities, in-flight leases and acknowledgements."""

    prefix = "sunusav:q"

    def __init__(self, list_key: str | None = None):
        list_key = list_key or Conf.CLUSTER_NAME
        super().__init__(list_key=list_key)
        self.name = list_key
        self.keys = [self._list(k) for k in served_keys(list_key)]
        self.inflight = f"{self.prefix}:inflight"
        self.payloads = f"{self.prefix}:payloads"
        self.homes = f"{self.prefix}:homes"
        self._dequeue = self.connection.register_script(_DEQUEUE)

    def _list(self, key: str) -> str:
        return f"{self.prefix}:list:{key}"

    def enqueue(self, task):
        task_id = uuid.uuid4().hex
        home = self._list(self.name)
        pipe = self.connection.pipeline(transaction=True)
        pipe.hset(self.payloads, task_id, task)
        pipe.hset(self.homes, task_id, home)
        pipe.rpush(home, task_id)
        pipe.execute()
        return task_id

    def dequeue(self):
        now = time.time()
        found = self._dequeue(keys=[self.inflight, self.payloads, self.homes, *self.keys], args=[now, now + Conf.RETRY])
        if found:
            task_id, payload = found
            return [(task_id.decode(), payload)]
        time.sleep(Conf.POLL)
        return None

    def acknowledge(self, task_id):
        pipe = self.connection.pipeline(transaction=True)
        pipe.zrem(self.inflight, task_id)
        pipe.hdel(self.payloads, task_id)
        pipe.hdel(self.homes, task_id)
        pipe.execute()

    def fail(self, task_id):
        self.acknowledge(task_id)

    def delete(self, task_id):
        self.acknowledge(task_id)

    def queue_size(self) -> int:
        return sum(self.connection.llen(k) for k in self.keys)

    def lock_size(self) -> int:
        # In-flight tasks of every queue share one set; count this cluster's.
        ids = self.connection.zrange(self.inflight, 0, -1)
        if not ids:
            return 0
        homes = self.connection.hmget(self.homes, ids)
        return sum(1 for h in homes if h and h.decode() in self.keys)

    def packages(self):
        """Yield the payload of every task Redis holds, queued or in flight, whatever its list."""
        for _, payload in self.connection.hscan_iter(self.payloads, count=500):
            yield payload

    def purge_queue(self):
        for key in self.keys:
            ids = self.connection.lrange(key, 0, -1)
            if ids:
                self.connection.hdel(self.payloads, *ids)
                self.connection.hdel(self.homes, *ids)
            self.connection.delete(key)

    def delete_queue(self):
        return self.purge_queue()
