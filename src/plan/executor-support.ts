// What the executor (python/galvatron_runtime) runs, declared once next to the plan schema: the plan
// validator refuses the rest, naming the field, and docs/plan-format.md says the same.

/** Model families the executor builds (python/galvatron_runtime/model.py, vision.py, t5.py, swin.py). */
export const EXECUTOR_FAMILIES = ['gpt', 'llama', 'bert', 'vit', 't5', 'swin'] as const;

/**
 * Context parallelism (cp > 1) splits the sequence in this many chunks per CP rank: chunks i and 2·cp − 1 − i
 * go to CP rank i (Megatron-LM / TransformerEngine's causal load balancing, python/galvatron_runtime/cp.py),
 * so the training sequence must divide into 2·cp chunks.
 */
export const EXECUTOR_CP_CHUNKS_PER_RANK = 2;
