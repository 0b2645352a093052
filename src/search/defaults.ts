// The defaults of a search as `galvatron plan` and the web page run it (no imports: the page's main
// bundle reads them without the search).
export const DEFAULT_MODEL = 'llama2-7b';
export const DEFAULT_CLUSTER = 'dgx-a100-80g';
export const DEFAULT_GLOBAL_BATCH = 64;
// Interleaving is opt-in: its chunk-frontier combinations dominate search time (docs/search-benchmark.md).
export const DEFAULT_MAX_VPP = 3;
export const DEFAULT_FRONTIER_LIMIT = 64;
