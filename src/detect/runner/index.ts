export { BODIES_LOG, BodyLog } from "./body-log.js";
export { ANSWERS_FILE, type JournalLine, RUN_JOURNAL_FORMAT, scanJournal } from "./journal.js";
export { BACKOFF_BASE_MS, BACKOFF_MAX_MS, RETRY_AFTER_CAP_MS } from "./pacing.js";
export { type RecheckResult, recheckJournal } from "./recheck.js";
export { RUN_DEFAULTS, type RunOptions, type RunProgress, type RunResult, runQueries } from "./run-queries.js";
