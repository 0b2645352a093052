// The CLI flag of each library config key: the library names keys (tp, globalBatch) in its errors, and the
// CLI shows them as the flags a user types.
const CONFIG_FLAGS: Record<string, string> = {
  tp: '--tp',
  pp: '--pp',
  cp: '--cp',
  vpp: '--vpp',
  gpus: '--gpus',
  globalBatch: '--global-batch',
  microBatch: '--micro-batch',
  precision: '--precision',
  attention: '--attention',
  schedule: '--schedule',
  seqLen: '--seq',
  output: '--output',
  to: '--to',
  model: '--model',
  cluster: '--cluster',
  profile: '--profile',
  runs: '--runs',
  plan: '--plan',
  calibration: '--calibration',
  maxCp: '--max-cp',
  sp: '--sp',
  nodes: '--nodes',
  nprocPerNode: '--nproc-per-node',
  memoryGiB: '--memory-gib',
  memoryReserveGiB: '--memory-reserve-gib',
};

/** The flag for a config key, also as the first word of a field ("model /path.json"); any other field as it is. */
export function flagOf(key: string): string {
  const space = key.indexOf(' ');
  const head = space < 0 ? key : key.slice(0, space);
  return Object.hasOwn(CONFIG_FLAGS, head) ? CONFIG_FLAGS[head]! + key.slice(head.length) : key;
}
