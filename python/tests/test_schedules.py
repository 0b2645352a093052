"""Pipeline schedules: every (chunk, micro-batch) runs forward then backward exactly once per stage, and
the schedule cannot deadlock with the executor's rules (sends never block, receives block)."""
import itertools
import unittest

from galvatron_runtime.pipeline import schedule


def stream_orders(kind, pp, virtual, micro):
    """Per p2p stream (direction, from stage, to stage): the order items are sent and received."""
    sends, recvs = {}, {}
    last = pp * virtual - 1
    for s in range(pp):
        for a, v, k in schedule(kind, pp, virtual, micro, s):
            j = v * pp + s
            if a == "F":
                if j > 0:
                    recvs.setdefault(("f", (j - 1) % pp, s), []).append((j, k))
                if j < last:
                    sends.setdefault(("f", s, (j + 1) % pp), []).append((j + 1, k))
            else:
                if j < last:
                    recvs.setdefault(("b", (j + 1) % pp, s), []).append((j + 1, k))
                if j > 0:
                    sends.setdefault(("b", s, (j - 1) % pp), []).append((j, k))
    return sends, recvs


def simulate(kind, pp, virtual, micro):
    """Run all stages' action lists; return True if every action completes."""
    lists = {s: schedule(kind, pp, virtual, micro, s) for s in range(pp)}
    pos = {s: 0 for s in range(pp)}
    sent = set()  # ('F', j, k): activation of chunk j-1 -> j available; ('B', j, k): grad of chunk j+1 -> j
    last = pp * virtual - 1
    progress = True
    while progress:
        progress = False
        for s in range(pp):
            if pos[s] == len(lists[s]):
                continue
            kind_, v, k = lists[s][pos[s]]
            j = v * pp + s
            if kind_ == "F":
                if j > 0 and ("F", j, k) not in sent:
                    continue
                if j < last:
                    sent.add(("F", j + 1, k))
            else:
                if j < last and ("B", j, k) not in sent:
                    continue
                if j > 0:
                    sent.add(("B", j - 1, k))
            pos[s] += 1
            progress = True
    return all(pos[s] == len(lists[s]) for s in range(pp))


class ScheduleTest(unittest.TestCase):
    def test_each_unit_once_forward_before_backward(self):
        for kind, pp, virtual, micro in itertools.product(("gpipe", "1f1b"), (1, 2, 3, 4), (1, 2, 3), (1, 2, 4, 8)):
            if virtual > 1 and (pp == 1 or (kind != "gpipe" and micro % pp)):
                continue
            for s in range(pp):
                acts = schedule(kind, pp, virtual, micro, s)
                fwd = [(v, k) for a, v, k in acts if a == "F"]
                bwd = [(v, k) for a, v, k in acts if a == "B"]
                want = sorted((v, k) for v in range(virtual) for k in range(micro))
                self.assertEqual(sorted(fwd), want)
                self.assertEqual(sorted(bwd), want)
                for unit in want:
                    self.assertLess(acts.index(("F",) + unit), acts.index(("B",) + unit))

    def test_no_deadlock(self):
        for kind, pp, virtual, micro in itertools.product(("gpipe", "1f1b"), (1, 2, 3, 4, 8), (1, 2, 4), (1, 2, 3, 4, 8, 16)):
            if virtual > 1 and (pp == 1 or (kind != "gpipe" and micro % pp)):
                continue
            with self.subTest(kind=kind, pp=pp, virtual=virtual, micro=micro):
                self.assertTrue(simulate(kind, pp, virtual, micro))

    def test_streams_in_order(self):
        # NCCL matches point-to-point operations in issue order per group: each stream must be received
        # in the order it is sent (gloo matches by tag and would not need it).
        for kind, pp, virtual, micro in itertools.product(("gpipe", "1f1b"), (2, 3, 4), (1, 2, 3), (2, 4, 8, 12)):
            if virtual > 1 and kind != "gpipe" and micro % pp:
                continue
            with self.subTest(kind=kind, pp=pp, virtual=virtual, micro=micro):
                sends, recvs = stream_orders(kind, pp, virtual, micro)
                self.assertEqual(sends, recvs)

    def test_1f1b_in_flight_bound(self):
        # 1F1B keeps at most pp - s micro-batches in flight on stage s (its memory advantage over GPipe).
        pp, micro = 4, 8
        for s in range(pp):
            live = peak = 0
            for a, _, _ in schedule("1f1b", pp, 1, micro, s):
                live += 1 if a == "F" else -1
                peak = max(peak, live)
            self.assertEqual(peak, min(pp - s, micro))


if __name__ == "__main__":
    unittest.main()
