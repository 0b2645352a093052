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
};

/** The flag for a config key; any other field as it is. */
export function flagOf(key: string): string {
  return Object.hasOwn(CONFIG_FLAGS, key) ? CONFIG_FLAGS[key]! : key;
}
