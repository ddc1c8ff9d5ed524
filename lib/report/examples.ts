// The report's "Example responses" section (Figure 1 of the paper as HTML): per condition, the prompt, the
// steering feature, and the response with each of the judge's attempts marked and scored. All text escaped.
import { exampleKindText, type TrialExample } from '../trials/examples.ts';
import { escapeHtml } from './html.ts';

/** Colours of attempts 1, 2, 3, … (Okabe–Ito, as the figures use). */
const ATTEMPT_COLOURS = ['#D55E00', '#0072B2', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];

const colour = (i: number) => ATTEMPT_COLOURS[i % ATTEMPT_COLOURS.length];
const badge = (i: number, score: number | null) =>
  `<span class="badge" style="--c:${colour(i)}">attempt ${i + 1} · score ${score ?? '–'}</span>`;

/** The response with every attempt marked where it stands; attempts not found verbatim are listed below it. */
function responseHtml(e: TrialExample): string {
  const r = e.trial.response;
  if (e.attempts.every((a) => a.span)) {
    let at = 0;
    const parts: string[] = [];
    e.attempts.forEach((a, i) => {
      const [s, end] = a.span!;
      if (s > at) parts.push(`<span class="between">${escapeHtml(r.slice(at, s))}</span>`);
      parts.push(
        `<span class="attempt" style="--c:${colour(i)}">${badge(i, a.score)}${escapeHtml(r.slice(s, end))}</span>`,
      );
      at = end;
    });
    if (at < r.length) parts.push(`<span class="between">${escapeHtml(r.slice(at))}</span>`);
    return `<div class="response">${parts.join('')}</div>`;
  }
  const listed = e.attempts
    .map(
      (a, i) =>
        `<div class="response"><span class="attempt" style="--c:${colour(i)}">${badge(i, a.score)}${escapeHtml(a.text)}</span></div>`,
    )
    .join('');
  return `<p class="meta">The judge's attempt texts are not all verbatim in the response; they are shown as the judge gave them, the response below.</p>${listed}
<details><summary>full response</summary><div class="response">${escapeHtml(r)}</div></details>`;
}

function exampleHtml(e: TrialExample): string {
  const t = e.trial;
  const kind = exampleKindText(e);
  const feature = `${t.feature}${t.feature_label ? ` “${t.feature_label}”` : ''}`;
  return `<div class="example" data-trial="${escapeHtml(t.id)}">
<div><span class="tag">${escapeHtml(kind)}</span><b>Prompt:</b> ${escapeHtml(t.prompt)}</div>
<div class="meta">steering feature ${escapeHtml(feature)}${t.boost === null ? '' : ` · boost ${escapeHtml(Number(t.boost.toPrecision(3)))}`} · seed ${escapeHtml(t.seed)} · trial <code>${escapeHtml(t.id)}</code></div>
${responseHtml(e)}
</div>`;
}

export function examplesSection(examples: Map<string, TrialExample[]>, n: number): string {
  if (!examples.size) return '';
  const blocks = [...examples].map(
    ([condition, list]) => `<h3>${escapeHtml(condition)}</h3>\n${list.map(exampleHtml).join('\n')}`,
  );
  return `<h2>Example responses</h2>
<p>Up to ${n} per condition, picked deterministically from the counted trials: multi-attempt responses first (largest score change from the first to the last attempt first), then typical single-attempt ones (first score nearest the condition's median); one per steered feature before a second of any. Each attempt the judge found is underlined in its colour with its score; text between attempts is grey.</p>
${blocks.join('\n')}`;
}
