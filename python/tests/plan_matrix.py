"""Plans for the equivalence matrix, written without the TypeScript planner (plain galvatron.plan/v1 dicts).

    python python/tests/plan_matrix.py OUT_DIR      # writes OUT_DIR/<name>.json, prints the paths

Tiny GPT (4 layers, hidden 32, 8 heads, vocab 256, seq 16, tied) and tiny LLaMA (GQA 8/4 heads, SwiGLU,
RoPE, RMSNorm, untied) on 8 ranks, covering DP/ZeRO-1/2/3, TP 2/4/8 with and without SP, PP 2/4 with
gpipe, 1f1b and interleaved 1F1B, 3D, recompute, tpConsecutive false, context parallelism (CP 2/4 with
TP, SP, ZeRO and recompute, cp changing between layers) and per-layer heterogeneous plans.
"""
from __future__ import annotations

import json
import os
import sys

GPT = {
    "name": "tiny-gpt",
    "family": "gpt",
    "layers": 4,
    "hidden": 32,
    "heads": 8,
    "kvHeads": 8,
    "ffnHidden": 128,
    "ffnType": "gelu",
    "vocab": 256,
    "seqLen": 16,
    "tiedEmbeddings": True,
    "positional": "learned",
}
LLAMA = {
    "name": "tiny-llama",
    "family": "llama",
    "layers": 4,
    "hidden": 64,
    "heads": 8,
    "kvHeads": 4,
    "ffnHidden": 96,
    "ffnType": "swiglu",
    "vocab": 256,
    "seqLen": 16,
    "tiedEmbeddings": False,
    "positional": "rope",
}
BERT = dict(GPT, name="tiny-bert", family="bert", tiedEmbeddings=True)


def strategy(tp=1, dp=1, sp=False, dp_type="ddp", recompute="none", consecutive=True, cp=1) -> dict:
    return {
        "tp": tp,
        "sequenceParallel": sp,
        "cp": cp,
        "dp": dp,
        "dpType": dp_type,
        "recompute": recompute,
        "tpConsecutive": consecutive,
    }


def even_chunks(layers: int, count: int) -> list[dict]:
    per, extra = divmod(layers, count)
    out, start = [], 0
    for j in range(count):
        end = start + per + (1 if j < extra else 0)
        out.append({"start": start, "end": end})
        start = end
    return out


def make_plan(model, layers, embedding=None, pp=1, schedule="1f1b", virtual=1, global_batch=16, micro_batches=2):
    if isinstance(layers, dict):
        layers = [layers] * model["layers"]
    layers = [dict(l) for l in layers]
    return {
        "format": "galvatron.plan/v1",
        "model": model,
        "cluster": {"name": "test", "gpusPerNode": 8, "nodes": 1},
        "training": {
            "globalBatch": global_batch,
            "microBatches": micro_batches,
            "seqLen": model["seqLen"],
            "precision": "fp32",
            "optimizer": "adam",
            "attention": "unfused",
            "fp32MainGrads": True,
            "tpOverlap": False,
            "dropout": False,
        },
        "pipeline": {
            "degree": pp,
            "schedule": schedule,
            "virtualStages": virtual,
            "chunks": even_chunks(model["layers"], pp * virtual),
        },
        "embedding": dict(embedding or layers[0]),
        "layers": layers,
    }


def matrix() -> dict[str, dict]:
    s = strategy
    plans = {
        # pp = 1: data parallel, ZeRO, tensor parallel, sequence parallel, recompute, layouts
        "gpt-dp8-ddp": make_plan(GPT, s(dp=8), micro_batches=2),
        "gpt-dp8-zero1": make_plan(GPT, s(dp=8, dp_type="zero1")),
        "gpt-dp8-zero2": make_plan(GPT, s(dp=8, dp_type="zero2")),
        "gpt-dp8-zero3": make_plan(GPT, s(dp=8, dp_type="zero3")),
        "gpt-tp2-dp4": make_plan(GPT, s(tp=2, dp=4)),
        "gpt-tp4-sp-dp2-zero2": make_plan(GPT, s(tp=4, dp=2, sp=True, dp_type="zero2")),
        "gpt-tp8": make_plan(GPT, s(tp=8), global_batch=8, micro_batches=2),
        "gpt-tp8-sp": make_plan(GPT, s(tp=8, sp=True), global_batch=8, micro_batches=2),
        "gpt-tp2-sp-dp4-zero3-full": make_plan(GPT, s(tp=2, dp=4, sp=True, dp_type="zero3", recompute="full")),
        "gpt-tp4-dp2-selective-noconsec": make_plan(
            GPT, s(tp=4, dp=2, recompute="selective", consecutive=False)
        ),
        "gpt-hetero-a": make_plan(
            GPT,
            [
                s(tp=2, dp=4, dp_type="zero2"),
                s(tp=1, dp=8, dp_type="ddp"),
                s(tp=4, dp=2, sp=True, dp_type="zero3"),
                s(tp=8, dp=1, recompute="full"),
            ],
            embedding=s(tp=2, dp=4, sp=True, dp_type="zero1"),
        ),
        "llama-dp8-zero3-selective": make_plan(LLAMA, s(dp=8, dp_type="zero3", recompute="selective")),
        "llama-tp4-sp-dp2": make_plan(LLAMA, s(tp=4, dp=2, sp=True)),
        "llama-tp2-dp4-noconsec-zero2": make_plan(LLAMA, s(tp=2, dp=4, dp_type="zero2", consecutive=False)),
        "llama-hetero-b": make_plan(
            LLAMA,
            [
                s(tp=4, dp=2, sp=True, dp_type="zero3", recompute="selective"),
                s(tp=2, dp=4, dp_type="zero1", consecutive=False),
                s(tp=1, dp=8, dp_type="zero2", recompute="full"),
                s(tp=4, dp=2, dp_type="ddp"),
            ],
            embedding=s(tp=8, sp=True, dp_type="ddp"),
        ),
        "bert-tp2-sp-dp4": make_plan(BERT, s(tp=2, dp=4, sp=True)),
        # pipelines
        "gpt-pp2-gpipe-tp2-dp2": make_plan(GPT, s(tp=2, dp=2), pp=2, schedule="gpipe", micro_batches=4),
        "gpt-pp2-1f1b-tp2-dp2-zero2": make_plan(
            GPT, s(tp=2, dp=2, dp_type="zero2"), pp=2, schedule="1f1b", micro_batches=4
        ),
        "gpt-pp4-gpipe-dp2": make_plan(GPT, s(dp=2), pp=4, schedule="gpipe", micro_batches=4),
        "gpt-pp4-1f1b-tp2-sp": make_plan(GPT, s(tp=2, sp=True), pp=4, schedule="1f1b", micro_batches=8),
        "gpt-pp2-interleaved-tp2-dp2": make_plan(
            GPT, s(tp=2, dp=2), pp=2, schedule="interleaved-1f1b", virtual=2, micro_batches=4
        ),
        "llama-pp2-interleaved-zero1": make_plan(
            LLAMA, s(tp=2, dp=2, dp_type="zero1"), pp=2, schedule="interleaved-1f1b", virtual=2, micro_batches=2
        ),
        "gpt8-pp4-interleaved-dp2-zero2": make_plan(
            dict(GPT, name="tiny-gpt-8", layers=8),
            s(dp=2, dp_type="zero2"),
            pp=4,
            schedule="interleaved-1f1b",
            virtual=2,
            micro_batches=4,
        ),
        "llama-pp2-1f1b-tp2-dp2-zero3": make_plan(
            LLAMA, s(tp=2, dp=2, dp_type="zero3", recompute="full"), pp=2, micro_batches=4
        ),
        "llama-pp4-1f1b-tp2": make_plan(LLAMA, s(tp=2), pp=4, micro_batches=4),
        "llama-pp2-hetero": make_plan(
            LLAMA,
            [
                s(tp=2, dp=2, dp_type="zero2"),
                s(tp=4, sp=True, recompute="selective"),
                s(tp=1, dp=4, dp_type="zero3"),
                s(tp=2, dp=2, sp=True, consecutive=False, recompute="full"),
            ],
            embedding=s(tp=4, sp=True),
            pp=2,
            schedule="1f1b",
            micro_batches=4,
        ),
        "gpt-pp2-hetero-tied": make_plan(
            GPT,
            [
                s(tp=4, dp=1, sp=True),
                s(tp=1, dp=4, dp_type="zero3"),
                s(tp=2, dp=2, dp_type="zero2", consecutive=False),
                s(tp=4, dp=1, recompute="full"),
            ],
            embedding=s(tp=2, dp=2, dp_type="zero3"),
            pp=2,
            schedule="gpipe",
            micro_batches=4,
        ),
        # context parallelism
        "gpt-cp2-tp2-dp2": make_plan(GPT, s(tp=2, cp=2, dp=2)),
        "gpt-cp4-tp2-sp-zero3": make_plan(GPT, s(tp=2, cp=4, sp=True, dp_type="zero3"), global_batch=8),
        "llama-cp2-tp2-sp-dp2-selective-noconsec": make_plan(
            LLAMA, s(tp=2, cp=2, dp=2, sp=True, recompute="selective", consecutive=False)
        ),
        "bert-cp2-dp4-full": make_plan(BERT, s(cp=2, dp=4, recompute="full")),
        # the same cp on layers whose CP groups differ (per-layer groups, tables per CP rank)
        "gpt-cp-hetero": make_plan(
            GPT,
            [
                s(tp=2, cp=2, dp=2),
                s(tp=1, cp=2, dp=4),
                s(tp=2, cp=4, dp=1, sp=True),
                s(tp=1, cp=2, dp=4, consecutive=False),
            ],
            embedding=s(cp=2, dp=4),
        ),
        "llama-pp2-cp-hetero": make_plan(
            LLAMA,
            [
                s(tp=2, cp=2, dp=1, sp=True),
                s(tp=1, cp=4, dp=1, dp_type="zero2"),
                s(tp=2, cp=1, dp=2, dp_type="zero3"),
                s(tp=1, cp=2, dp=2, recompute="full"),
            ],
            embedding=s(tp=1, cp=2, dp=2, dp_type="zero1"),
            pp=2,
            micro_batches=4,
        ),
    }
    return plans


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "plans"
    os.makedirs(out, exist_ok=True)
    for name, plan in matrix().items():
        path = os.path.join(out, f"{name}.json")
        with open(path, "w") as f:
            json.dump(plan, f, indent=1)
        print(path)


if __name__ == "__main__":
    main()
