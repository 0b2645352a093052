// `npm run plan:schema`: writes docs/plan.schema.json from the zod plan schema.
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { planJsonSchemaText } from '../src/plan/json-schema.js';

const path = fileURLToPath(new URL('../../docs/plan.schema.json', import.meta.url));
writeFileAtomic(path, planJsonSchemaText());
console.log(`wrote ${path}`);
