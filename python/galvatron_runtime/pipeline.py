"""Pipeline schedules and their execution with point-to-point sends.

A schedule is, per stage, an ordered list of actions ('F' | 'B', v, k): forward or backward of local
model chunk v (global chunk j = v·P + s) on micro-batch k. ``schedule`` builds GPipe (all forwards, then
all backwards), 1F1B (warm-up of P−s−1 forwards, one-forward-one-backward, cool-down) and, with virtual
stages, Megatron's interleaved 1F1B (or all-forward-all-backward over the virtual chunks for gpipe).

Why not torch.distributed.pipelining: its stages own a whole submodule with one input/output layout and
its schedules assume the same DP/TP layout across stages; here each chunk's first layer has its own
layout, activations are re-distributed inside the sending stage into the receiving layer's layout, and
stages hold TP/ZeRO collectives inside their forward/backward. The executor below is ~100 lines.

Point-to-point: every boundary transfer goes from local rank l of one stage to local rank l of the next
(both hold the same block of the receiving layer's layout), over a two-rank process group per
(direction, sending stage, receiving stage, l), so that each group carries one ordered stream of
tensors: NCCL matches sends and receives in issue order per group, gloo by tag (we give both). Sends
are isend (gloo's send completes only when the receiver posts its receive) and are waited at the end of
the schedule; receives block. With sends that never block, a schedule cannot deadlock as long as every
stage's action order respects the data dependencies, which tests/test_schedules.py checks by simulation.
"""
from __future__ import annotations

import torch

from . import comm


def schedule(kind: str, pp: int, virtual: int, micro: int, stage: int) -> list[tuple[str, int, int]]:
    if virtual == 1:
        if kind == "gpipe":
            return [("F", 0, k) for k in range(micro)] + [("B", 0, k) for k in range(micro)]
        warm = min(pp - stage - 1, micro)
        acts = [("F", 0, k) for k in range(warm)]
        for i in range(micro - warm):
            acts += [("F", 0, warm + i), ("B", 0, i)]
        acts += [("B", 0, k) for k in range(micro - warm, micro)]
        return acts
    if kind == "gpipe":
        fwd = [("F", v, k) for v in range(virtual) for k in range(micro)]
        bwd = [("B", v, k) for v in reversed(range(virtual)) for k in range(micro)]
        return fwd + bwd
    # Megatron-LM interleaved 1F1B (microbatch groups of size pp; micro % pp == 0).
    total = micro * virtual

    def unit(i: int, forward: bool) -> tuple[int, int]:
        in_group = i % (pp * virtual)
        v = in_group // pp
        if not forward:
            v = virtual - v - 1
        return v, (i // (pp * virtual)) * pp + in_group % pp

    if micro == pp:
        warm = total
    else:
        warm = min((pp - stage - 1) * 2 + (virtual - 1) * pp, total)
    acts = [("F",) + unit(i, True) for i in range(warm)]
    for i in range(total - warm):
        acts += [("F",) + unit(warm + i, True), ("B",) + unit(i, False)]
    acts += [("B",) + unit(i, False) for i in range(total - warm, total)]
    return acts


def _free_data(out) -> None:
    if out is not None and out.numel():
        out.data = torch.empty((1,), dtype=out.dtype, device=out.device)


def _backward_from_freed(out: torch.Tensor, grad: torch.Tensor) -> None:
    """Backward from an output whose data was freed: the engine call without torch.autograd.backward's
    shape check (Megatron's custom_backward does the same)."""
    from torch.autograd import Variable

    Variable._execution_engine.run_backward((out,), (grad,), False, False, (), True, True)


def p2p_group_key(direction: str, src_stage: int, dst_stage: int, local: int, n: int) -> str:
    return f"p2p/{direction}/{src_stage * n + local}->{dst_stage * n + local}"


def p2p_rank_sets(pp: int, virtual: int, n: int) -> list[tuple[str, tuple[int, int]]]:
    """(label, ranks) of every p2p group of the plan, in a fixed order (created on every rank)."""
    out = []
    boundaries = []
    for j in range(pp * virtual - 1):
        pair = (j % pp, (j + 1) % pp)
        if pair not in boundaries:
            boundaries.append(pair)
    for a, b in boundaries:
        for l in range(n):
            ranks = (a * n + l, b * n + l)
            out.append((p2p_group_key("f", a, b, l, n), ranks))
            out.append((p2p_group_key("b", b, a, l, n), ranks))
    return out


class PipelineRunner:
    """Runs one step's schedule on this rank. ``chunks[v]`` is local chunk v with
    ``forward(x, k)`` (x None for the first chunk; returns the loss for the last chunk, else the output
    already in the next chunk's layout) and ``input_shape`` (block shape of its received input)."""

    def __init__(self, chunks, *, pp, virtual, micro, stage, local, n, kind, groups, device, act_dtype):
        self.chunks, self.pp, self.virtual, self.micro = chunks, pp, virtual, micro
        self.stage, self.local, self.n = stage, local, n
        self.actions = schedule(kind, pp, virtual, micro, stage)
        self.last = pp * virtual - 1
        self.groups, self.device, self.act_dtype = groups, device, act_dtype

    def _group(self, direction, src_stage, dst_stage):
        return self.groups.get_labeled(p2p_group_key(direction, src_stage, dst_stage, self.local, self.n))

    def _tag(self, j: int, k: int, backward: bool) -> int:
        return (j * self.micro + k) * 2 + int(backward)

    def run(self, autocast, loss_scale: float = 1.0) -> torch.Tensor:
        """Forward and backward of all micro-batches; returns this rank's summed loss (0 off the last chunk).

        ``loss_scale``: backward starts from loss · loss_scale (loss_scale.py; Megatron's scale_loss in
        its backward_step); the returned loss is unscaled."""
        P, s, n, l = self.pp, self.stage, self.n, self.local
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        saved: dict[tuple[int, int], tuple] = {}
        forward_sends: dict[tuple[int, int], tuple] = {}
        backward_sends: list[tuple] = []
        for kind, v, k in self.actions:
            j = v * P + s
            chunk = self.chunks[v]
            if kind == "F":
                x = None
                if j > 0:
                    prev = (j - 1) % P
                    g = self._group("f", prev, s)
                    x = comm.recv(chunk.input_shape, self.act_dtype, self.device, prev * n + l, self._tag(j, k, False), g)
                    x.requires_grad_(True)
                with autocast:
                    out = chunk.forward(x, k)
                if j == self.last:
                    loss_sum += out.detach().double()
                else:
                    out = out.to(self.act_dtype)
                    nxt = (j + 1) % P
                    t = out.detach().contiguous()
                    work = comm.isend(t, nxt * n + l, self._tag(j + 1, k, False), self._group("f", s, nxt))
                    forward_sends[(v, k)] = (work, t, tuple(out.shape))
                saved[(v, k)] = (x, out)
            else:
                x, out = saved.pop((v, k))
                if j == self.last:
                    (out * loss_scale if loss_scale != 1.0 else out).backward()
                else:
                    # The next stage received this output before it computed the gradient we wait for, so
                    # the send is done (gloo reports completion only through wait()). From here the output
                    # keeps only its autograd node (Megatron's pseudo-free): its data was the next stage's
                    # input, not an activation of this stage.
                    work, _, shape = forward_sends.pop((v, k))
                    work.wait()
                    _free_data(out)
                    nxt = (j + 1) % P
                    g = comm.recv(shape, out.dtype, self.device, nxt * n + l, self._tag(j + 1, k, True), self._group("b", nxt, s))
                    _backward_from_freed(out, g)
                if j > 0:
                    prev = (j - 1) % P
                    t = x.grad.contiguous()
                    backward_sends.append((comm.isend(t, prev * n + l, self._tag(j, k, True), self._group("b", s, prev)), t))
                del x, out
                # Gradients sent upstream are kept until their send completes (at once on NCCL, at the end
                # of the schedule on gloo, whose sends complete only through wait()).
                backward_sends = [(w, t) for w, t in backward_sends if not w.is_completed()]
        for work, _ in backward_sends:
            work.wait()
        for work, _, _ in forward_sends.values():
            work.wait()
        return loss_sum
