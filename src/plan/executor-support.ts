// What the executor (python/galvatron_runtime) runs, declared once next to the plan schema: the plan
// validator refuses the rest, naming the field, and docs/plan-format.md says the same.

/** Model families the executor builds (python/galvatron_runtime/model.py). */
export const EXECUTOR_FAMILIES = ['gpt', 'llama', 'bert'] as const;
