// Compute and communication that run at the same time slow each other down (DESIGN.md §4 "Overlap").

/**
 * Wall time of `computeS` and `commS` overlapped: max(C, B) + (λ − 1)·min(C, B), λ ≥ 1 the slow-down
 * both suffer while they share the GPU's memory system and SMs (Galvatron measures λ ≈ 1.1–1.3).
 */
export function overlappedTimeS(computeS: number, commS: number, lambda: number): number {
  return Math.max(computeS, commS) + (lambda - 1) * Math.min(computeS, commS);
}
