// Public API of the judge layer.
export {
  createJudge,
  defaultJudgeSpec,
  parseJudgeSpec,
  DEFAULT_MODELS,
  JUDGE_BOUNDS,
  JUDGE_HTTP_DEFAULTS,
  type JudgeSpec,
} from './create.ts';
export { loadJudgePrompt, renderJudgePrompt, PLACEHOLDERS, DEFAULT_PROMPT_PATH, type JudgePrompt } from './prompt.ts';
export { parseJudgeOutput, parseJudgment, InvalidJudgeOutput, type JudgeFormat, type ParsedJudgment } from './parse.ts';
export { segmentAttempts, relevanceScore, HEURISTIC_NOTE } from './heuristic.ts';
export { regradeTrials, type RegradeSummary } from './regrade.ts';
export {
  loadOrganism,
  organismAttempts,
  promptTopic,
  wellFormedShare,
  SHIPPED_ORGANISM,
  ORGANISM_NOTE,
  type OrganismLanguage,
} from './organism.ts';
export type {
  Judge,
  JudgeInput,
  JudgeOptions,
  JudgeProvenance,
  JudgeStats,
  JudgeResult,
  JudgedAttempt,
} from './types.ts';
