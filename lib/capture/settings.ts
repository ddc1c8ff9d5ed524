// The capture stage's settings, declared once (lib/settings/table.ts). What changes the codes (hook point,
// interventions, batch size, the samples' hash) is recorded in the store's meta.json `settings`, not in a
// config.json, so no setting here has a config.json key.
import { text, withDefault } from '../settings/kinds.ts';
import { BATCH_SIZE } from '../settings/session.ts';

export const CAPTURE_SETTINGS = {
  samples: text({
    doc: 'JSONL: {id, messages|prompt+response, condition, spans?}',
    expected: 'a JSONL file',
    key: null,
  }),
  out: text({ doc: 'store directory (NAME.acts); rerunning resumes', expected: 'a directory', key: null }),
  batchSize: withDefault(BATCH_SIZE, { doc: 'samples per forward pass (the codes do not depend on it)' }),
};
