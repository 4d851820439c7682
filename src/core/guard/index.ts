/** The API guard's pure core: PRADA extraction monitoring and DAWN answers (docs/guard-math.md). */
export {
  DAWN_DOMAIN,
  type DawnDecision,
  dawnDecision,
  dawnMessage,
  deriveDawnKey,
  type RewrittenAnswer,
  rewriteAnswer,
} from "./dawn.js";
export {
  PRADA_DEFAULT_DELTA,
  PradaMonitor,
  type PradaObservation,
  type PradaOptions,
  type PradaState,
} from "./prada.js";
export { ROBUST_HASH_DEFAULTS, type RobustHashOptions, robustInputHash } from "./robust-hash.js";
export { SHAPIRO_WILK_MAX_N, SHAPIRO_WILK_MIN_N, type ShapiroWilkResult, shapiroWilk } from "./shapiro-wilk.js";
