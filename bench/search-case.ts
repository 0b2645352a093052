// One search benchmark case in its own process (so the runner can bound its time): prints a JSON row.
import { runSearchBench, SEARCH_CASES } from './search.bench.js';

const [index, limit] = process.argv.slice(2);
const c = SEARCH_CASES[Number(index)];
if (!c) throw new Error(`no search case ${index}`);
const [row] = runSearchBench(limit === 'none' ? undefined : Number(limit), [c]);
console.log(JSON.stringify(row));
